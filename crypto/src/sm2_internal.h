// Internal: conversions between bytes and OpenSSL's BIGNUM / EC_POINT that the
// SM2 code shares.
#pragma once

#include "crypto/bytes.h"
#include "crypto/sm2_curve.h"
#include "crypto/src/ossl.h"

namespace ferry::crypto::internal {

// Big-endian, left-padded to `size` bytes; the value must fit.
Bytes bn_to_bytes(const BIGNUM* bn, std::size_t size);

// A scalar of exactly field_size bytes with 1 <= d <= n-2, else nullptr.
ossl::Bn scalar_in_range(const Sm2Curve& curve, ByteView scalar);

// 04 || x || y, validated: on the curve and not at infinity; else nullptr.
ossl::EcPoint point_from_bytes(const Sm2Curve& curve, ByteView point);
Bytes point_to_bytes(const Sm2Curve& curve, const EC_POINT* point);

}  // namespace ferry::crypto::internal

#include "crypto/src/sm2_internal.h"

namespace ferry::crypto::internal {

Bytes bn_to_bytes(const BIGNUM* bn, std::size_t size) {
  Bytes out(size);
  if (BN_bn2binpad(bn, out.data(), static_cast<int>(size)) != static_cast<int>(size)) {
    ossl::fail("BN_bn2binpad: value wider than its field");
  }
  return out;
}

ossl::Bn scalar_in_range(const Sm2Curve& curve, ByteView scalar) {
  if (scalar.size() != curve.field_size()) return nullptr;
  ossl::Bn d(ossl::check_ptr(BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), nullptr), "BN_bin2bn"));
  ossl::Bn limit(ossl::check_ptr(BN_dup(curve.order()), "BN_dup"));
  ossl::check(BN_sub_word(limit.get(), 1), "n-1");
  // GM/T 0003.1 §6.1: d in [1, n-2]; d = n-1 would make (1+d) non-invertible.
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), limit.get()) >= 0) return nullptr;
  return d;
}

ossl::EcPoint point_from_bytes(const Sm2Curve& curve, ByteView point) {
  // Only the uncompressed form is accepted: it is what every SM2 key file and
  // the standards' examples carry, and it avoids point decompression.
  if (point.size() != curve.point_size() || point[0] != 0x04) return nullptr;
  ossl::EcPoint p(ossl::check_ptr(EC_POINT_new(curve.group()), "EC_POINT_new"));
  ossl::BnCtx ctx(ossl::check_ptr(BN_CTX_new(), "BN_CTX_new"));
  if (EC_POINT_oct2point(curve.group(), p.get(), point.data(), point.size(), ctx.get()) != 1 ||
      EC_POINT_is_at_infinity(curve.group(), p.get()) ||
      EC_POINT_is_on_curve(curve.group(), p.get(), ctx.get()) != 1) {
    ossl::drain_errors();
    return nullptr;
  }
  return p;
}

Bytes point_to_bytes(const Sm2Curve& curve, const EC_POINT* point) {
  Bytes out(curve.point_size());
  ossl::BnCtx ctx(ossl::check_ptr(BN_CTX_new(), "BN_CTX_new"));
  if (EC_POINT_point2oct(curve.group(), point, POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(),
                         ctx.get()) != out.size()) {
    ossl::fail("EC_POINT_point2oct");
  }
  return out;
}

}  // namespace ferry::crypto::internal

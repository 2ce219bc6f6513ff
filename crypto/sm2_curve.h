// An SM2 elliptic curve's domain parameters (GM/T 0003.1 §5) and the
// operations on them that OpenSSL 3.0's SM2 does not expose: the signer's
// identity hash Z and the raw point arithmetic the key exchange needs. The
// recommended curve sm2p256v1 is the only one keys are made on; other curves
// exist for the standards' own worked examples (GM/T 0003.2-.4 Annex A use a
// 256-bit test curve).
#pragma once

#include <memory>
#include <string_view>

#include <openssl/ec.h>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm3.h"

namespace ferry::crypto {

// Big-endian hex of each value, as the standards print them.
struct Sm2CurveParameters {
  std::string_view p, a, b, gx, gy, n;
};

class Sm2Curve {
 public:
  // sm2p256v1 (GM/T 0003.5-2012, GB/T 32918.5-2017; OID 1.2.156.10197.1.301).
  static const Sm2Curve& recommended();
  // A prime-field curve y^2 = x^3 + ax + b with cofactor 1. Errc::invalid_argument
  // if the values do not make a curve with G of order n.
  static Result<Sm2Curve> from_parameters(const Sm2CurveParameters& params);

  ~Sm2Curve();
  Sm2Curve(Sm2Curve&&) noexcept;
  Sm2Curve& operator=(Sm2Curve&&) noexcept;

  std::size_t field_size() const;  // bytes of an element of F_p, and of a scalar
  std::size_t point_size() const { return 1 + 2 * field_size(); }
  const EC_GROUP* group() const;
  const BIGNUM* order() const;

  // GM/T 0003.2 §5.5: Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA).
  // point is 04 || x || y; ID is 1..8191 bytes.
  Result<Sm3Digest> z(std::string_view id, ByteView point) const;

  // [d]G as 04 || x || y, for a scalar with 1 <= d <= n-2 (GM/T 0003.1 §6.1).
  Result<Bytes> public_point(ByteView scalar) const;

  // True for an uncompressed point on the curve that is not the point at
  // infinity (GM/T 0003.1 §6.2.1 public key validation, cofactor 1).
  bool is_valid_point(ByteView point) const;

 private:
  struct State;
  explicit Sm2Curve(EC_GROUP* owned);
  std::unique_ptr<State> state_;
};

}  // namespace ferry::crypto

#include "crypto/sm2_curve.h"

#include <openssl/obj_mac.h>

#include "crypto/sm2.h"
#include "crypto/src/ossl.h"
#include "crypto/src/sm2_internal.h"

namespace ferry::crypto {

struct Sm2Curve::State {
  ossl::EcGroup group;
  ossl::Bn order;
  std::size_t field_size = 0;
  Bytes z_curve_part;  // a || b || xG || yG, the fixed middle of every Z
};

Sm2Curve::Sm2Curve(EC_GROUP* owned) : state_(std::make_unique<State>()) {
  state_->group.reset(owned);
  state_->field_size = static_cast<std::size_t>((EC_GROUP_get_degree(state_->group.get()) + 7) / 8);
  ossl::BnCtx ctx(ossl::check_ptr(BN_CTX_new(), "BN_CTX_new"));
  ossl::Bn p(BN_new()), a(BN_new()), b(BN_new()), gx(BN_new()), gy(BN_new());
  ossl::check(EC_GROUP_get_curve(group(), p.get(), a.get(), b.get(), ctx.get()), "EC_GROUP_get_curve");
  ossl::check(EC_POINT_get_affine_coordinates(group(), EC_GROUP_get0_generator(group()), gx.get(), gy.get(),
                                              ctx.get()),
              "generator coordinates");
  for (const BIGNUM* v : {a.get(), b.get(), gx.get(), gy.get()}) {
    Bytes buf = internal::bn_to_bytes(v, state_->field_size);
    state_->z_curve_part.insert(state_->z_curve_part.end(), buf.begin(), buf.end());
  }
}
Sm2Curve::~Sm2Curve() = default;
Sm2Curve::Sm2Curve(Sm2Curve&&) noexcept = default;
Sm2Curve& Sm2Curve::operator=(Sm2Curve&&) noexcept = default;

namespace {
ossl::Bn bn_from_hex(std::string_view hex) {
  BIGNUM* bn = nullptr;
  std::string s(hex);
  if (s.empty() || BN_hex2bn(&bn, s.c_str()) != static_cast<int>(s.size())) {
    BN_free(bn);
    return nullptr;
  }
  return ossl::Bn(bn);
}
}  // namespace

const Sm2Curve& Sm2Curve::recommended() {
  static const Sm2Curve curve = [] {
    ossl::EcGroup group(ossl::check_ptr(EC_GROUP_new_by_curve_name(NID_sm2), "sm2p256v1 group"));
    return Sm2Curve(group.release());
  }();
  return curve;
}

Result<Sm2Curve> Sm2Curve::from_parameters(const Sm2CurveParameters& params) {
  const Error bad = make_error(Errc::invalid_argument, "SM2 curve parameters do not describe a valid curve");
  ossl::Bn p = bn_from_hex(params.p), a = bn_from_hex(params.a), b = bn_from_hex(params.b);
  ossl::Bn gx = bn_from_hex(params.gx), gy = bn_from_hex(params.gy), n = bn_from_hex(params.n);
  if (!p || !a || !b || !gx || !gy || !n) return bad;
  ossl::BnCtx ctx(ossl::check_ptr(BN_CTX_new(), "BN_CTX_new"));
  ossl::EcGroup group(EC_GROUP_new_curve_GFp(p.get(), a.get(), b.get(), ctx.get()));
  if (!group) return bad;
  ossl::EcPoint g(ossl::check_ptr(EC_POINT_new(group.get()), "EC_POINT_new"));
  if (EC_POINT_set_affine_coordinates(group.get(), g.get(), gx.get(), gy.get(), ctx.get()) != 1) return bad;
  ossl::Bn one(ossl::check_ptr(BN_new(), "BN_new"));
  BN_one(one.get());
  if (EC_GROUP_set_generator(group.get(), g.get(), n.get(), one.get()) != 1) return bad;
  if (EC_GROUP_check(group.get(), ctx.get()) != 1) {
    ossl::drain_errors();
    return bad;
  }
  return Sm2Curve(group.release());
}

std::size_t Sm2Curve::field_size() const { return state_->field_size; }

const EC_GROUP* Sm2Curve::group() const { return state_->group.get(); }

const BIGNUM* Sm2Curve::order() const { return EC_GROUP_get0_order(state_->group.get()); }

Result<Sm3Digest> Sm2Curve::z(std::string_view id, ByteView point) const {
  if (id.empty() || id.size() > kSm2MaxIdSize) {
    return make_error(Errc::invalid_argument, "SM2 distinguishing ID must be 1 to 8191 bytes");
  }
  if (!is_valid_point(point)) return make_error(Errc::bad_key, "SM2 public key is not a point on the curve");

  const std::size_t entl = id.size() * 8;
  const std::uint8_t entl_bytes[2] = {static_cast<std::uint8_t>(entl >> 8), static_cast<std::uint8_t>(entl)};
  Sm3 sm3;
  sm3.update(entl_bytes);
  sm3.update(as_bytes(id));
  sm3.update(state_->z_curve_part);
  sm3.update(point.subspan(1));  // xA || yA
  return sm3.finish();
}

Result<Bytes> Sm2Curve::public_point(ByteView scalar) const {
  ossl::Bn d = internal::scalar_in_range(*this, scalar);
  if (!d) return make_error(Errc::bad_key, "SM2 private key must be a scalar 1 <= d <= n-2");
  ossl::EcPoint p(ossl::check_ptr(EC_POINT_new(group()), "EC_POINT_new"));
  ossl::BnCtx ctx(ossl::check_ptr(BN_CTX_new(), "BN_CTX_new"));
  ossl::check(EC_POINT_mul(group(), p.get(), d.get(), nullptr, nullptr, ctx.get()), "[d]G");
  return internal::point_to_bytes(*this, p.get());
}

bool Sm2Curve::is_valid_point(ByteView point) const {
  return internal::point_from_bytes(*this, point) != nullptr;
}

}  // namespace ferry::crypto

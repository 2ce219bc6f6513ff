#include "crypto/sm2_kx.h"

#include <openssl/rand.h>

#include "crypto/src/ossl.h"
#include "crypto/src/sm2_internal.h"

namespace ferry::crypto {

struct Sm2KeyExchange::State {
  const Sm2Curve* curve = nullptr;
  Sm2KxRole role = Sm2KxRole::initiator;
  ossl::Bn d;                  // own static private scalar
  ossl::Bn r;                  // own ephemeral scalar; cleared after finish()
  Bytes own_r_point;           // R = [r]G
  Bytes peer_point;            // peer's static public key
  Sm3Digest z_own{};
  Sm3Digest z_peer{};
  std::size_t key_len = 0;
};

namespace {

ossl::Bn new_bn() { return ossl::Bn(ossl::check_ptr(BN_secure_new(), "BN_secure_new")); }

// GM/T 0003.3 §6.1: w = ceil(ceil(log2 n) / 2) - 1, and
// x̄ = 2^w + (x & (2^w - 1)) for the x coordinate of an ephemeral point.
ossl::Bn x_bar(const Sm2Curve& curve, ByteView point) {
  const int n_bits = BN_num_bits(curve.order());
  const int w = (n_bits + 1) / 2 - 1;
  const std::size_t fs = curve.field_size();
  ossl::Bn x(ossl::check_ptr(BN_bin2bn(point.data() + 1, static_cast<int>(fs), nullptr), "BN_bin2bn"));
  // BN_mask_bits fails when x is already shorter than w bits; x mod 2^w is
  // then x itself. A peer can choose such a point, so this is no error.
  if (BN_num_bits(x.get()) > w) ossl::check(BN_mask_bits(x.get(), w), "x mod 2^w");
  ossl::check(BN_set_bit(x.get(), w), "2^w + x");
  return x;
}

Status validate_id(std::string_view id, const char* whose) {
  if (id.empty() || id.size() > 8191) {
    return make_error(Errc::invalid_argument, std::string(whose) + " SM2 ID must be 1 to 8191 bytes");
  }
  return {};
}

}  // namespace

Sm2KeyExchange::Sm2KeyExchange(std::unique_ptr<State> state) : state_(std::move(state)) {}
Sm2KeyExchange::~Sm2KeyExchange() = default;
Sm2KeyExchange::Sm2KeyExchange(Sm2KeyExchange&&) noexcept = default;
Sm2KeyExchange& Sm2KeyExchange::operator=(Sm2KeyExchange&&) noexcept = default;

Result<Sm2KeyExchange> Sm2KeyExchange::start(const Sm2Curve& curve, const Parameters& params) {
  // r in [1, n-1] (GM/T 0003.3 §6.1 A1), from the private DRBG.
  SecretBytes r(curve.field_size());
  ossl::Bn rbn = new_bn();
  do {
    if (BN_priv_rand_range(rbn.get(), curve.order()) != 1) {
      return make_error(Errc::rng, "random generator failed: " + ossl::drain_errors());
    }
  } while (BN_is_zero(rbn.get()));
  if (BN_bn2binpad(rbn.get(), r.data(), static_cast<int>(r.size())) != static_cast<int>(r.size())) {
    ossl::fail("ephemeral scalar size");
  }
  return start_with_ephemeral(curve, params, r.view());
}

Result<Sm2KeyExchange> Sm2KeyExchange::start_with_ephemeral(const Sm2Curve& curve, const Parameters& params,
                                                           ByteView ephemeral_scalar) {
  if (Status s = validate_id(params.own_id, "own"); !s.ok()) return s.error();
  if (Status s = validate_id(params.peer_id, "peer's"); !s.ok()) return s.error();
  if (params.key_len == 0 || params.key_len > 0xffffffffull * kSm3DigestSize) {
    return make_error(Errc::invalid_argument, "SM2 key exchange: key length out of range");
  }
  ossl::Bn d = internal::scalar_in_range(curve, params.own_scalar);
  if (!d) return make_error(Errc::bad_key, "SM2 key exchange: own private key out of range");
  if (!curve.is_valid_point(params.peer_point)) {
    return make_error(Errc::bad_key, "SM2 key exchange: peer public key is not a point on the curve");
  }
  if (ephemeral_scalar.size() != curve.field_size()) {
    return make_error(Errc::invalid_argument, "SM2 key exchange: ephemeral scalar has the wrong size");
  }
  ossl::Bn r(ossl::check_ptr(BN_secure_new(), "BN_secure_new"));
  ossl::check_ptr(BN_bin2bn(ephemeral_scalar.data(), static_cast<int>(ephemeral_scalar.size()), r.get()), "r");
  if (BN_is_zero(r.get()) || BN_cmp(r.get(), curve.order()) >= 0) {
    return make_error(Errc::invalid_argument, "SM2 key exchange: ephemeral scalar out of range");
  }
  BN_set_flags(d.get(), BN_FLG_CONSTTIME);
  BN_set_flags(r.get(), BN_FLG_CONSTTIME);

  auto state = std::make_unique<State>();
  state->curve = &curve;
  state->role = params.role;
  state->key_len = params.key_len;
  state->peer_point.assign(params.peer_point.begin(), params.peer_point.end());

  Result<Bytes> own_point = curve.public_point(params.own_scalar);
  if (!own_point.ok()) return own_point.error();
  Result<Sm3Digest> z_own = curve.z(params.own_id, *own_point);
  if (!z_own.ok()) return z_own.error();
  Result<Sm3Digest> z_peer = curve.z(params.peer_id, params.peer_point);
  if (!z_peer.ok()) return z_peer.error();
  state->z_own = *z_own;
  state->z_peer = *z_peer;

  ossl::EcPoint rp(ossl::check_ptr(EC_POINT_new(curve.group()), "EC_POINT_new"));
  ossl::BnCtx ctx(ossl::check_ptr(BN_CTX_secure_new(), "BN_CTX_secure_new"));
  ossl::check(EC_POINT_mul(curve.group(), rp.get(), r.get(), nullptr, nullptr, ctx.get()), "[r]G");
  state->own_r_point = internal::point_to_bytes(curve, rp.get());
  state->d = std::move(d);
  state->r = std::move(r);
  return Sm2KeyExchange(std::move(state));
}

const Bytes& Sm2KeyExchange::ephemeral_point() const { return state_->own_r_point; }

Result<Sm2KxResult> Sm2KeyExchange::finish(ByteView peer_ephemeral_point) {
  State& s = *state_;
  if (!s.r) return make_error(Errc::invalid_argument, "SM2 key exchange: finish() called twice");
  const Sm2Curve& curve = *s.curve;
  const EC_GROUP* group = curve.group();

  // B2 / A6: the peer's R must be a valid point.
  ossl::EcPoint peer_r = internal::point_from_bytes(curve, peer_ephemeral_point);
  if (!peer_r) return make_error(Errc::verify_failed, "SM2 key exchange: peer's ephemeral point is not on the curve");
  ossl::EcPoint peer_p = internal::point_from_bytes(curve, s.peer_point);

  ossl::BnCtx ctx(ossl::check_ptr(BN_CTX_secure_new(), "BN_CTX_secure_new"));
  // A4-A5 / B3-B4: t = (d + x̄_own * r) mod n.
  ossl::Bn t = new_bn();
  BN_set_flags(t.get(), BN_FLG_CONSTTIME);
  ossl::Bn own_bar = x_bar(curve, s.own_r_point);
  ossl::check(BN_mod_mul(t.get(), own_bar.get(), s.r.get(), curve.order(), ctx.get()), "x̄ * r");
  ossl::check(BN_mod_add(t.get(), t.get(), s.d.get(), curve.order(), ctx.get()), "d + x̄ * r");

  // A7 / B5: U = [h * t](P_peer + [x̄_peer] R_peer), h = 1 on every curve we
  // accept (Sm2Curve sets the cofactor to one).
  ossl::Bn peer_bar = x_bar(curve, peer_ephemeral_point);
  ossl::EcPoint sum(ossl::check_ptr(EC_POINT_new(group), "EC_POINT_new"));
  ossl::check(EC_POINT_mul(group, sum.get(), nullptr, peer_r.get(), peer_bar.get(), ctx.get()), "[x̄]R");
  ossl::check(EC_POINT_add(group, sum.get(), sum.get(), peer_p.get(), ctx.get()), "P + [x̄]R");
  ossl::EcPoint shared(ossl::check_ptr(EC_POINT_new(group), "EC_POINT_new"));
  ossl::check(EC_POINT_mul(group, shared.get(), nullptr, sum.get(), t.get(), ctx.get()), "[t](P + [x̄]R)");
  s.r.reset();  // the ephemeral is used up whatever happens next
  if (EC_POINT_is_at_infinity(group, shared.get())) {
    return make_error(Errc::verify_failed, "SM2 key exchange failed: shared point is at infinity");
  }
  Bytes uv = internal::point_to_bytes(curve, shared.get());
  const std::size_t fs = curve.field_size();
  ByteView x = ByteView(uv).subspan(1, fs);
  ByteView y = ByteView(uv).subspan(1 + fs, fs);

  const bool initiator = s.role == Sm2KxRole::initiator;
  const Sm3Digest& z_a = initiator ? s.z_own : s.z_peer;
  const Sm3Digest& z_b = initiator ? s.z_peer : s.z_own;
  ByteView r_a = initiator ? ByteView(s.own_r_point) : peer_ephemeral_point;
  ByteView r_b = initiator ? peer_ephemeral_point : ByteView(s.own_r_point);

  Sm2KxResult out;
  // A8 / B6: K = KDF(x || y || Z_A || Z_B, klen).
  out.key = SecretBytes(s.key_len);
  sm3_kdf({x, y, z_a, z_b}, out.key.mutable_view());

  // A9 / B7 and A10 / B10: the confirmation hashes.
  Sm3 sm3;
  sm3.update(x);
  sm3.update(z_a);
  sm3.update(z_b);
  sm3.update(r_a.subspan(1));  // x1 || y1
  sm3.update(r_b.subspan(1));  // x2 || y2
  const Sm3Digest inner = sm3.finish();
  const std::uint8_t kResponderTag[1] = {0x02};
  const std::uint8_t kInitiatorTag[1] = {0x03};
  sm3.update(kResponderTag);
  sm3.update(y);
  sm3.update(inner);
  out.responder_confirmation = sm3.finish();
  sm3.update(kInitiatorTag);
  sm3.update(y);
  sm3.update(inner);
  out.initiator_confirmation = sm3.finish();
  wipe(uv);
  return out;
}

bool sm2_kx_confirm(const Sm3Digest& expected, ByteView received) {
  return equal_constant_time(expected, received);
}

}  // namespace ferry::crypto

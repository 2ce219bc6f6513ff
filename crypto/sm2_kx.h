// The SM2 key exchange protocol of GM/T 0003.3-2012 (GB/T 32918.3-2016) §6.1,
// with the optional confirmation hashes. OpenSSL 3.0 does not offer it, so it
// is built here on OpenSSL's EC and BIGNUM primitives.
//
// Message flow (A = initiator 发起方, B = responder 响应方):
//   A -> B : R_A
//   B -> A : R_B, S_B                 (B has K; A checks S_B, i.e. S1 = S_B)
//   A -> B : S_A                      (B checks S_A, i.e. S2 = S_A)
// Both sides compute both confirmation values; each sends its own and checks
// the other's with sm2_kx_confirm().
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm2_curve.h"
#include "crypto/sm3.h"

namespace ferry::crypto {

enum class Sm2KxRole { initiator, responder };

struct Sm2KxResult {
  SecretBytes key;                    // K_A = K_B
  Sm3Digest responder_confirmation;   // S_B = SM3(0x02 || y || SM3(x || Z_A || Z_B || x1 || y1 || x2 || y2))
  Sm3Digest initiator_confirmation;   // S_A = SM3(0x03 || y || ...)
};

class Sm2KeyExchange {
 public:
  struct Parameters {
    Sm2KxRole role;
    ByteView own_scalar;        // d, field_size bytes
    std::string_view own_id;
    ByteView peer_point;        // peer's static public key, 04 || x || y
    std::string_view peer_id;
    std::size_t key_len;        // klen in bytes, 1..(2^32-1)*32
  };

  // Validates the parameters and draws the ephemeral r from OpenSSL's DRBG.
  // The curve must outlive the exchange.
  static Result<Sm2KeyExchange> start(const Sm2Curve& curve, const Parameters& params);
  // The same with a given ephemeral r: for the standards' worked examples
  // only. Reusing r across exchanges reveals the static private key.
  static Result<Sm2KeyExchange> start_with_ephemeral(const Sm2Curve& curve, const Parameters& params,
                                                     ByteView ephemeral_scalar);

  ~Sm2KeyExchange();
  Sm2KeyExchange(Sm2KeyExchange&&) noexcept;
  Sm2KeyExchange& operator=(Sm2KeyExchange&&) noexcept;

  // R = [r]G, to send to the peer (04 || x || y).
  const Bytes& ephemeral_point() const;

  // Takes the peer's R, validates it (GM/T 0003.3 §6.1 B2 / A6: on the curve),
  // and derives the key and both confirmation values. Once per exchange: the
  // ephemeral scalar is wiped afterwards.
  Result<Sm2KxResult> finish(ByteView peer_ephemeral_point);

 private:
  struct State;
  explicit Sm2KeyExchange(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Constant-time check of a received confirmation value against the expected one.
bool sm2_kx_confirm(const Sm3Digest& expected, ByteView received);

}  // namespace ferry::crypto

// The authenticated encryption used on the isolation link: SM4-CTR, then
// HMAC-SM3 over the header and the ciphertext (encrypt-then-MAC, the
// composition Bellare & Namprempre 2000 prove secure, and the one GM/T
// 0024-2014's SM4 + HMAC-SM3 suites use).
//
// Why not SM4-GCM: Debian 12's OpenSSL 3.0 has no SM4-GCM or SM4-CCM (both
// arrive in 3.2), and a hand-written GHASH is exactly the kind of
// side-channel-prone code an appliance should not carry. Both primitives here
// come from OpenSSL.
//
// Box layout:   nonce (12) || ciphertext (= plaintext length) || tag (32)
// Keystream:    SM4-CTR with counter block  nonce || 00000000, so one box holds
//               at most 2^32 blocks and the counter never carries into the nonce.
// Tag:          HMAC-SM3(mac_key, header || nonce || ciphertext
//                        || u64be(len header) || u64be(len ciphertext)),
//               the lengths last so that header and ciphertext cannot be
//               re-split (as in RFC 8439 §2.8), all 32 bytes kept.
// Keys:         SM3-KDF(secret || label) -> enc key (16) || mac key (32): the
//               cipher and the MAC never share a key.
//
// Nonce rule: a nonce is never used twice under one key. A Sealer makes its
// own nonces as  sender (4 bytes) || counter (8 bytes, from 0)  and refuses to
// seal once the counter would wrap; callers cannot choose a nonce. Two Sealers
// under the same keys must have different sender values (the link gives each
// direction its own keys and sender value).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm3.h"
#include "crypto/sm4.h"

namespace ferry::crypto {

inline constexpr std::size_t kSealNonceSize = 12;
inline constexpr std::size_t kSealTagSize = kSm3DigestSize;
inline constexpr std::size_t kSealOverhead = kSealNonceSize + kSealTagSize;
// 2^32 SM4 blocks per box (see the keystream note above).
inline constexpr std::uint64_t kSealMaxPlaintext = (std::uint64_t{1} << 32) * kSm4BlockSize;

struct SealKeys {
  Sm4Key enc{};
  std::array<std::uint8_t, kSm3DigestSize> mac{};

  // Both keys from one secret (e.g. the SM2 key exchange's K) and a label
  // that binds them to their use (e.g. "ferry link v1 outer->inner").
  static SealKeys derive(ByteView secret, std::string_view label);
  ~SealKeys();
};

class Sealer {
 public:
  Sealer(const SealKeys& keys, std::uint32_t sender);
  ~Sealer();
  Sealer(Sealer&&) noexcept;
  Sealer& operator=(Sealer&&) noexcept;

  // out.size() must be plaintext.size() + kSealOverhead.
  Status seal_into(ByteView header, ByteView plaintext, MutableByteView out);
  Result<Bytes> seal(ByteView header, ByteView plaintext);

  std::uint64_t boxes_sealed() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class Opener {
 public:
  explicit Opener(const SealKeys& keys);
  ~Opener();
  Opener(Opener&&) noexcept;
  Opener& operator=(Opener&&) noexcept;

  // The tag is checked in constant time before anything is decrypted; any
  // change to header, nonce, ciphertext or tag fails with Errc::verify_failed.
  // out.size() must be box.size() - kSealOverhead.
  Status open_into(ByteView header, ByteView box, MutableByteView out);
  Result<Bytes> open(ByteView header, ByteView box);

  // The nonce of a box, so that the link can refuse replays by sequence.
  static std::array<std::uint8_t, kSealNonceSize> nonce_of(ByteView box);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::crypto

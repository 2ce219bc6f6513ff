// SM3 (GM/T 0004-2012 = GB/T 32905-2016), HMAC-SM3 (GM/T 0042-2015, RFC 2104
// construction), and the SM3 key derivation function of GM/T 0003.4 §5.4.3.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include "crypto/bytes.h"

namespace ferry::crypto {

inline constexpr std::size_t kSm3DigestSize = 32;
inline constexpr std::size_t kSm3BlockSize = 64;
using Sm3Digest = std::array<std::uint8_t, kSm3DigestSize>;

// Streaming SM3: update() any number of times, then finish(). finish() also
// resets, so one Sm3 can hash many messages.
class Sm3 {
 public:
  Sm3();
  ~Sm3();
  Sm3(Sm3&&) noexcept;
  Sm3& operator=(Sm3&&) noexcept;

  void update(ByteView data);
  Sm3Digest finish();

  static Sm3Digest digest(ByteView data);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Streaming HMAC-SM3 under one key; finish() re-arms the same key, so the key
// schedule is paid once per key, not once per message.
class HmacSm3 {
 public:
  explicit HmacSm3(ByteView key);
  ~HmacSm3();
  HmacSm3(HmacSm3&&) noexcept;
  HmacSm3& operator=(HmacSm3&&) noexcept;

  void update(ByteView data);
  Sm3Digest finish();

  static Sm3Digest mac(ByteView key, ByteView data);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// GM/T 0003.4 §5.4.3: K = Hash(Z || ct=1) || Hash(Z || ct=2) || ..., the 32-bit
// counter big-endian, truncated to out.size() bytes. The parts of Z are hashed
// in order, as if concatenated, so callers need not build Z in one buffer.
void sm3_kdf(std::initializer_list<ByteView> z_parts, MutableByteView out);
SecretBytes sm3_kdf(ByteView z, std::size_t out_len);

}  // namespace ferry::crypto

// SM4 (GM/T 0002-2012 = GB/T 32907-2016) in the modes ferry uses: the raw block
// for known-answer tests, CTR for the link seal, and CBC with PKCS#7 padding
// for interoperation with SDF devices and other GM/T systems.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "crypto/bytes.h"
#include "crypto/result.h"

namespace ferry::crypto {

inline constexpr std::size_t kSm4KeySize = 16;
inline constexpr std::size_t kSm4BlockSize = 16;
using Sm4Key = std::array<std::uint8_t, kSm4KeySize>;
using Sm4Block = std::array<std::uint8_t, kSm4BlockSize>;

// One key, block by block (ECB). Only for known-answer tests and composing
// modes; never for data.
class Sm4BlockCipher {
 public:
  explicit Sm4BlockCipher(const Sm4Key& key);
  ~Sm4BlockCipher();
  Sm4BlockCipher(Sm4BlockCipher&&) noexcept;
  Sm4BlockCipher& operator=(Sm4BlockCipher&&) noexcept;

  Sm4Block encrypt(const Sm4Block& in);
  Sm4Block decrypt(const Sm4Block& in);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// SM4-CTR keystream with the whole 16-byte block as a big-endian counter (as
// NIST SP 800-38A and OpenSSL do). Streaming: successive apply() calls continue
// the keystream. reset() starts a new counter block under the same key.
class Sm4Ctr {
 public:
  Sm4Ctr(const Sm4Key& key, const Sm4Block& counter);
  ~Sm4Ctr();
  Sm4Ctr(Sm4Ctr&&) noexcept;
  Sm4Ctr& operator=(Sm4Ctr&&) noexcept;

  void reset(const Sm4Block& counter);
  // out.size() must equal in.size(); in and out may be the same buffer.
  void apply(ByteView in, MutableByteView out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// SM4-CBC with PKCS#7 padding (RFC 5652 §6.3): the output is always 1..16
// bytes longer than the input.
Bytes sm4_cbc_encrypt(const Sm4Key& key, const Sm4Block& iv, ByteView plaintext);

// Fails with Errc::decrypt_failed and one fixed message for every kind of bad
// input (length, padding), and checks the padding in constant time, so the
// answer leaks nothing a padding-oracle attack could use. CBC has no
// integrity: data that crosses a trust boundary uses the Seal instead.
Result<Bytes> sm4_cbc_decrypt(const Sm4Key& key, const Sm4Block& iv, ByteView ciphertext);

}  // namespace ferry::crypto

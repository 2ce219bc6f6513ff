// Byte buffers, hex, and secrets that are wiped when they go away.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string to_hex(ByteView bytes);
// Accepts upper and lower case; whitespace is not allowed. nullopt on an odd
// length or a non-hex character.
std::optional<Bytes> from_hex(std::string_view hex);

// Overwrites memory in a way the compiler may not elide (OPENSSL_cleanse).
void wipe(MutableByteView bytes);

// Constant-time equality of two equal-length buffers (CRYPTO_memcmp); unequal
// lengths compare false, and a length is not a secret.
bool equal_constant_time(ByteView a, ByteView b);

// Key material: wiped on destruction and on every reassignment.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : bytes_(size) {}
  explicit SecretBytes(ByteView bytes) : bytes_(bytes.begin(), bytes.end()) {}
  SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
    other.bytes_.clear();
  }
  SecretBytes& operator=(SecretBytes other) noexcept {
    wipe(bytes_);
    bytes_.swap(other.bytes_);
    return *this;
  }
  ~SecretBytes() { wipe(bytes_); }

  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  ByteView view() const { return bytes_; }
  MutableByteView mutable_view() { return bytes_; }

 private:
  Bytes bytes_;
};

}  // namespace ferry::crypto

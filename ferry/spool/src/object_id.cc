#include "ferry/spool/object_id.h"

#include <openssl/rand.h>

namespace ferry::spool {

crypto::Result<ObjectId> ObjectId::generate() {
  Bytes b;
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    return crypto::make_error(crypto::Errc::rng, "random generator failed while making an object id");
  }
  return ObjectId(b);
}

std::optional<ObjectId> ObjectId::parse(std::string_view hex) {
  if (hex.size() != kHexSize) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  Bytes b;
  for (std::size_t i = 0; i < kSize; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    b[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return ObjectId(b);
}

std::string ObjectId::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(kHexSize, '0');
  for (std::size_t i = 0; i < kSize; ++i) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 0x0f];
  }
  return out;
}

}  // namespace ferry::spool

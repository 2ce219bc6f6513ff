// The identity of one exchange object: 16 random bytes, written as 32
// lower-case hex digits in file names, records and logs. It is assigned once,
// at ingest, and travels with the object across the link, so both sides and
// the audit trail name the same object the same way.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace ferry::spool {

class ObjectId {
 public:
  static constexpr std::size_t kSize = 16;
  static constexpr std::size_t kHexSize = 2 * kSize;
  using Bytes = std::array<std::uint8_t, kSize>;

  constexpr ObjectId() = default;
  explicit constexpr ObjectId(const Bytes& bytes) : bytes_(bytes) {}

  // From OpenSSL's DRBG (RAND_bytes); fails with Errc::rng only when the
  // generator does.
  static crypto::Result<ObjectId> generate();

  // Exactly 32 lower-case hex digits, the only spelling we ever write, so a
  // file name parses to one id and an id prints to one file name.
  static std::optional<ObjectId> parse(std::string_view hex);

  std::string hex() const;
  const Bytes& bytes() const { return bytes_; }

  auto operator<=>(const ObjectId&) const = default;

 private:
  Bytes bytes_{};
};

}  // namespace ferry::spool

template <>
struct std::hash<ferry::spool::ObjectId> {
  std::size_t operator()(const ferry::spool::ObjectId& id) const noexcept {
    // The bytes are random, so any eight of them are a good hash.
    std::uint64_t h;
    std::memcpy(&h, id.bytes().data(), sizeof h);
    return static_cast<std::size_t>(h);
  }
};

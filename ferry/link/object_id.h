// ObjectId: the 16-byte name of one exchange object, chosen by the sending
// daemon (random, never reused) and carried in every frame that concerns the
// object, so that each frame is attributable to exactly one transfer.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/bytes.h"

namespace ferry::link {

struct ObjectId {
  static constexpr std::size_t kSize = 16;
  std::array<std::uint8_t, kSize> bytes{};

  // The all-zero id names no object; frames about objects never carry it.
  bool is_zero() const;
  std::string hex() const;
  static std::optional<ObjectId> from_hex(std::string_view hex);
  static ObjectId from_bytes(crypto::ByteView b);  // b.size() must be kSize

  auto operator<=>(const ObjectId&) const = default;
};

}  // namespace ferry::link

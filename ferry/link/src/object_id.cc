#include "ferry/link/object_id.h"

#include <algorithm>
#include <cassert>

namespace ferry::link {

bool ObjectId::is_zero() const {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::string ObjectId::hex() const { return crypto::to_hex(bytes); }

std::optional<ObjectId> ObjectId::from_hex(std::string_view hex) {
  std::optional<crypto::Bytes> b = crypto::from_hex(hex);
  if (!b || b->size() != kSize) return std::nullopt;
  return from_bytes(*b);
}

ObjectId ObjectId::from_bytes(crypto::ByteView b) {
  assert(b.size() == kSize);
  ObjectId id;
  std::copy(b.begin(), b.end(), id.bytes.begin());
  return id;
}

}  // namespace ferry::link

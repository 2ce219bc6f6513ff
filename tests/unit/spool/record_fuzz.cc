// Spool records are read back after crashes and, on the receiving side, hold
// fields the peer chose. Whatever the bytes, decode must not crash, and what
// it accepts must be the canonical encoding of the record it returns:
// encode(decode(b)) == b and decode(encode(r)) == r.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ferry/spool/object_record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::spool;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto record = decode_record(text);
  if (!record.ok()) return 0;
  auto again = encode_record(*record);
  if (!again.ok() || *again != text) std::abort();
  auto back = decode_record(*again);
  if (!back.ok() || !(*back == *record)) std::abort();
  return 0;
}

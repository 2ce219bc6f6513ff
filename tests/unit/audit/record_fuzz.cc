// Audit records are read back from disk an attacker may have written: the
// one codec must never crash, and what it accepts it must write back byte
// for byte (record.h: format_record(parse_record(l)) == l), with a hash that
// is the SM3 (GB/T 32905) of the line's body.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "crypto/bytes.h"
#include "ferry/audit/record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  ferry::crypto::Result<ferry::audit::Record> r = ferry::audit::parse_record(line);
  if (!r.ok()) return 0;
  ferry::audit::Record copy = *r;
  if (ferry::audit::format_record(copy) != line) std::abort();
  if (copy.hash != r->hash) std::abort();
  const std::optional<ferry::crypto::Sm3Digest> body = ferry::audit::body_hash(line);
  if (!body || ferry::crypto::to_hex(*body) != r->hash) std::abort();
  return 0;
}

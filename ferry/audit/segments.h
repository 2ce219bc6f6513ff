// The audit directory's segment files: DIR/audit-<first seq, 20 digits>.jsonl,
// one record per line (record.h), in sequence order across files. The log
// appends to the newest; it rotates to a new file by size. Nothing but the
// log writes here; readers (verify, the index, syslog export) list and read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace ferry::audit {

struct Segment {
  std::string path;         // DIR/audit-00000000000000000001.jsonl
  std::uint64_t first_seq;  // from the name
  std::uint64_t size;       // bytes, as listed
};

// "audit-00000000000000000001.jsonl"
std::string segment_name(std::uint64_t first_seq);
// The first seq a segment file name stands for; nullopt for any other name.
std::optional<std::uint64_t> parse_segment_name(std::string_view name);

// The directory's segments in sequence order; other files are ignored.
crypto::Result<std::vector<Segment>> list_segments(const std::string& dir);

}  // namespace ferry::audit

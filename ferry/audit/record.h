// One audit record on disk, and its one codec. A record is one JSON object
// on one line (RFC 8259), keys in this order:
//
//   {"seq":42,"ts":"2026-11-27T02:03:04.123Z","side":"outer","severity":"info",
//    "event":"object.accepted", <the event's own fields, all strings>,
//    "prev":"<64 hex>","hash":"<64 hex>"}
//
// `prev` is the `hash` of record seq-1 (64 zeros for seq 1); `hash` is the
// SM3 (GB/T 32905) of the line's bytes up to, not including, `,"hash":` —
// the exact bytes written, so there is no canonical form to argue about.
// The event's fields use the names assessors query by: channel, object (the
// 32-hex object id), name, size, sm3, verdict, reasons, actor, detail, and
// others per event. Every value but seq is a JSON string.
//
// Records are read back from disk that an attacker may have written, so
// parse_record is strict: it accepts exactly what format_record writes
// (format_record(parse_record(l)) == l), and says what is wrong otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.h"
#include "crypto/sm3.h"

namespace ferry::audit {

inline constexpr std::size_t kMaxRecordBytes = 64 * 1024;  // a longer line is not a record
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct Record {
  std::uint64_t seq = 0;
  std::string ts;        // UTC, milliseconds: 2026-11-27T02:03:04.123Z
  std::string side;      // outer | inner
  std::string severity;  // info | notice | warning | error
  std::string event;     // dotted: object.accepted, audit.checkpoint, ...
  std::vector<std::pair<std::string, std::string>> fields;  // the event's own, in order
  std::string prev;      // 64 lower-case hex
  std::string hash;      // 64 lower-case hex

  // The value of the first field named `key`, or nullptr.
  const std::string* get(std::string_view key) const;
};

// "2026-11-27T02:03:04.123Z"
std::string format_timestamp(std::chrono::system_clock::time_point when);
// Milliseconds since the epoch from format_timestamp's form; nullopt otherwise.
std::optional<std::int64_t> parse_timestamp(std::string_view ts);

// The line for `record` (without the newline), its `hash` computed here and
// stored back into record.hash. record.prev must be set.
std::string format_record(Record& record);

// Errc::bad_format naming the byte offset and what is wrong. Checks syntax,
// key order, hex fields and that `hash` is the SM3 of the line's bytes;
// it does not check `prev` against anything (that is the chain's job).
crypto::Result<Record> parse_record(std::string_view line);

// The SM3 a line's `hash` must equal: of the bytes before `,"hash":`.
// nullopt when the line has no such suffix.
std::optional<crypto::Sm3Digest> body_hash(std::string_view line);

}  // namespace ferry::audit

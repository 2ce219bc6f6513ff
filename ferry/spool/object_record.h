// The small metadata record kept next to each object's data file, and its
// one codec. On disk a record is text, so an operator can read it with cat:
//
//   ferry-spool-record/1
//   id: 0f3c…(32 hex)
//   revision: 3
//   channel: docs-in
//   path: reports/%E5%B9%B4%E6%8A%A5.pdf
//   size: 1048576
//   sm3: 66c7…(64 hex)
//   state: outgoing
//   created: 1718000000000
//   updated: 1718000000123
//   verdict: accepted
//   reason: name.invalid control%20character%20U+000A%20at%20byte%203
//   delivered_name: reports/%E5%B9%B4%E6%8A%A5~0f3c1a2b.pdf
//   peer_serial: 42
//
// One `key: value` per line, keys in this order, `reason` repeatable,
// `delivered_name` and `peer_serial` optional. Text values are
// percent-encoded: printable ASCII other than '%' stands for itself, every
// other byte is %XX with upper-case hex, so a name holding a newline, a
// percent sign or any byte at all round-trips. Records can come from a
// damaged disk (and on the receiving side their fields come from the peer),
// so decode is strict and accepts only the canonical encoding:
// decode(b) succeeds only if encode(decode(b)) == b.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "crypto/sm3.h"
#include "ferry/spool/object_id.h"

namespace ferry::spool {

// A spool state is a directory of the spool (Spool::state_dir).
enum class State : std::uint8_t {
  incoming,    // ingested, waiting for the pipeline
  outgoing,    // passed the pipeline, queued for the link
  partial,     // receiving side: chunks arriving
  received,    // receiving side: complete and verified, waiting for delivery
  done,        // finished, kept for the retention period
  quarantine,  // rejected, with reasons
  pending,     // sending side: passed the pipeline, awaiting officers' approval ([audit])
};
inline constexpr std::array<State, 7> kAllStates = {State::incoming, State::outgoing, State::partial,
                                                    State::received, State::done,     State::quarantine,
                                                    State::pending};

std::string_view state_name(State state);
std::optional<State> parse_state(std::string_view name);

// Why an object was held or rejected: a dotted code ("name.invalid") that
// programs match on, and free text for people.
struct Reason {
  std::string code;
  std::string detail;
  bool operator==(const Reason&) const = default;
};

struct ObjectRecord {
  ObjectId id;
  // Bumped by every rewrite of the record; after a crash the copy with the
  // highest revision is the object's true state (see spool.h).
  std::uint64_t revision = 0;
  std::string channel;
  // UTF-8 (when valid), '/'-separated, relative to the channel's source
  // directory. Held as raw bytes: a quarantined object keeps its bad name.
  std::string path;
  std::uint64_t size = 0;
  crypto::Sm3Digest sm3{};
  State state = State::incoming;
  std::int64_t created_ms = 0;  // Unix milliseconds
  std::int64_t updated_ms = 0;
  std::string verdict;  // a token: "ingested", "accepted", "rejected", "delivered"
  std::vector<Reason> reasons;
  // Receiving side: the name (relative to the deliver directory) chosen for
  // this object, written before the rename that places it.
  std::optional<std::string> delivered_name;
  std::optional<std::uint64_t> peer_serial;  // the sender's policy serial

  bool operator==(const ObjectRecord&) const = default;
};

// Field limits. Every record within them encodes to at most kMaxRecordBytes.
inline constexpr std::size_t kMaxRecordBytes = 256 * 1024;
inline constexpr std::size_t kMaxChannelBytes = 255;
inline constexpr std::size_t kMaxPathBytes = 4096;
inline constexpr std::size_t kMaxTokenBytes = 64;  // verdict, reason code
inline constexpr std::size_t kMaxReasonDetailBytes = 1024;
inline constexpr std::size_t kMaxReasons = 64;

inline constexpr std::string_view kRecordMagic = "ferry-spool-record/1";

// Errc::invalid_argument naming the field when a record breaks a limit:
// channel and path non-empty, timestamps non-negative, verdict and reason
// codes tokens of [a-z0-9._-], lengths as above.
crypto::Status validate_record(const ObjectRecord& record);

crypto::Result<std::string> encode_record(const ObjectRecord& record);

// Errc::bad_format with the line number and what is wrong: wrong magic or
// version, unknown / duplicate / out-of-order / missing key, bad hex, bad
// number, non-canonical percent-encoding, an over-long record or field.
crypto::Result<ObjectRecord> decode_record(std::string_view text);

// The percent-encoding used for record values (exposed for log lines that
// must show a hostile name on one line).
std::string percent_encode(std::string_view bytes);

}  // namespace ferry::spool

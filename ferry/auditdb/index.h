// A queryable index of the audit trail: DIR/index.sqlite beside the segment
// files (ferry/audit/segments.h). The index is a cache, never evidence: it
// can be deleted at any time and is rebuilt from the records, and an
// assessor checks the records themselves with `ferryctl audit verify`.
//
// update() indexes only what was appended since the last call: per segment
// it remembers how many bytes it has indexed and the last line it took, and
// reads complete lines beyond that. A segment that shrank or vanished, whose
// last indexed line is no longer there as it was, a new segment older than
// the newest indexed one, or an index of another schema version makes it
// rebuild from scratch. (A change further back in a segment that keeps its
// size and last line is verify's to find, not the cache's.)
//
// Lines that are not records (parse_record refuses them) are skipped and
// counted, not indexed: finding them is verify's job, and one torn or
// altered line must not hide the rest of the trail from a query.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/result.h"

namespace ferry::auditdb {

inline constexpr char kIndexFileName[] = "index.sqlite";

// What one update() did, for the CLI to say and the tests to check.
struct UpdateReport {
  bool rebuilt = false;          // the index was (re)built from scratch
  std::string rebuild_reason;    // why, when rebuilt: "new index", "segment ... shrank", ...
  std::uint64_t segments = 0;    // segment files seen
  std::uint64_t records_added = 0;
  std::uint64_t bad_lines = 0;   // complete lines parse_record refused, skipped
  std::uint64_t bytes_read = 0;
};

// One indexed record. Text columns are empty when the record has no such
// field; size is the `size` field when it is a decimal number.
struct Row {
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  std::string event;
  std::string channel;
  std::string object;
  std::string name;
  std::string verdict;
  std::string severity;
  std::optional<std::uint64_t> size;
  std::string line;  // the record as written, without the newline
};

// Every member is a condition that must hold; unset members do not filter.
struct Filter {
  std::optional<std::int64_t> since_ms;  // ts_ms >= since_ms
  std::optional<std::int64_t> until_ms;  // ts_ms <  until_ms
  std::optional<std::string> channel;    // exact
  // Exact, or a prefix when it ends with '.': "object." matches object.*.
  std::optional<std::string> event;
  std::optional<std::string> verdict;    // exact
  std::optional<std::string> object;     // exact
  std::optional<std::string> name;       // substring, byte-wise
  std::optional<std::uint64_t> limit;    // at most this many rows, lowest seq first
};

class AuditIndex {
 public:
  // Opens DIR/index.sqlite, creating it when missing. An index file that
  // SQLite cannot read is deleted and created anew (it is only a cache).
  static crypto::Result<AuditIndex> open(const std::string& audit_dir);

  AuditIndex(AuditIndex&&) noexcept;
  AuditIndex& operator=(AuditIndex&&) noexcept;
  ~AuditIndex();

  crypto::Result<UpdateReport> update();

  // Rows matching `filter`, in seq order.
  crypto::Result<std::vector<Row>> query(const Filter& filter);
  // The same rows, handed one at a time to `visit` without collecting them;
  // visit returns false to stop early.
  crypto::Status scan(const Filter& filter, const std::function<bool(const Row&)>& visit);

  // Rows in the index, for tests and the bench.
  crypto::Result<std::uint64_t> count();

  const std::string& path() const;

 private:
  struct State;
  explicit AuditIndex(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace ferry::auditdb

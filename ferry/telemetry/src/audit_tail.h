// Reading the audit directory forward while the log appends to it: the
// exporter's view of the segment files (ferry/audit/segments.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "ferry/audit/record.h"

namespace ferry::telemetry {

class AuditTail {
 public:
  explicit AuditTail(std::string dir) : dir_(std::move(dir)) {}

  struct Item {
    audit::Record record;
    std::string line;  // as on disk, without the newline
  };

  // The next call returns records with seq > after (the segment holding
  // it is found again by its name). When `hash` is given and the record
  // `after` is read on the way with another hash, mismatch() says so.
  void seek_after(std::uint64_t after, std::string hash = {});
  // The seq seek_after named, once, when its record turned out different:
  // the trail was replaced or altered under the cursor.
  std::optional<std::uint64_t> take_mismatch() {
    if (!std::exchange(mismatch_, false)) return std::nullopt;
    return check_seq_;
  }

  // The next record, in file order, with after < seq <= limit; nullopt when
  // there is none yet (the next one is beyond limit, not written yet, or not
  // complete). Lines that are not records (parse_record fails, longer than
  // audit::kMaxRecordBytes, a torn tail followed by a newer segment) are
  // passed over and counted in `skipped`. Records whose seq does not go up
  // are passed over silently: exported already, or a tampered file, which is
  // the verify command's business, not export's.
  std::optional<Item> next(std::uint64_t limit, std::uint64_t& skipped);

 private:
  bool position();
  bool fill();  // reads more of the current segment; false at its end
  bool move_to_newer_segment();

  std::string dir_;
  std::uint64_t after_ = 0;
  bool positioned_ = false;
  std::string path_;
  std::uint64_t first_seq_ = 0;
  std::uint64_t file_offset_ = 0;  // of buf_[0]
  std::string buf_;
  std::size_t pos_ = 0;     // buf_[pos_..] not consumed yet
  bool discarding_ = false; // inside an over-long line, up to its newline
  std::uint64_t check_seq_ = 0;
  std::string check_hash_;
  bool mismatch_ = false;
};

}  // namespace ferry::telemetry

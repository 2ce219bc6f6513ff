// The tamper-evident audit log of one side: the only writer of its audit
// directory (CC FAU_GEN.1, FAU_STG.1-4; GB/T 22239-2019 8.1.4.3 requires
// audit records protected from deletion, modification and overwriting).
//
// What is on disk, and why each piece is there:
//
//   DIR/audit-<first seq, 20 digits>.jsonl   segments of records (record.h),
//       one hash chain across all of them: a modified, deleted, inserted or
//       reordered record breaks the chain at that record.
//   checkpoint records (event "audit.checkpoint"), appended by the log itself
//       every `checkpoint_records` records and on the first append after
//       `checkpoint_interval`: fields
//         covers  the seq of the record before it
//         key     fingerprint of the side key: hex SM3 (GB/T 32905) of its
//                 uncompressed public point, as policy::fingerprint writes it
//         sig     hex DER SM2 signature (GM/T 0003.2, GM/T 0009 default ID)
//                 over exactly
//                   "ferry-audit-checkpoint/1 side=<side> seq=<covers> hash=<prev>"
//                 where <prev> is the checkpoint record's own `prev`, the
//                 hash of record <covers>.
//       A checkpoint makes the chain up to it unforgeable without the key.
//   DIR/head, the HEAD SEAL, rewritten by every sync() that has something new:
//       two slots of kHeadSlotBytes, written alternately (pwrite + fdatasync)
//       so a write torn by a crash spoils one slot only. Each slot is one line
//         "ferry-audit-head/1 side=<side> slot=<0|1> seq=<N> hash=<H> ts=<ts> sig=<hex>"
//       padded with spaces and ending in '\n', where sig is the SM2 signature
//       over the line up to, not including, " sig=". The reader takes the
//       valid slot with the highest seq. The seal is what makes truncating
//       the newest records detectable even after the last checkpoint: the
//       log must reach seq N and record N must have hash H. The slot number
//       is signed so that copying the older slot over the newer one (rolling
//       the seal back) is visible rather than a second valid seal.
//
// Durability is group commit: append() writes straight to the segment
// (O_APPEND, no user-space buffer) so readers see records at once; sync()
// makes them durable (fdatasync) and then seals them.
//
// Storage (CC FAU_STG.3 action on possible loss, FAU_STG.4 prevention of
// loss): the log keeps a running count of its segments' bytes, reports a
// level (ok/warning/full), and maintain() removes only what it may:
// segments past retention, and with OnFull::overwrite_oldest, fully exported
// ones. Every removal is recorded first (event "audit.segment_removed"), so
// verify tells a removal the log made from a deletion. With OnFull::block
// the log keeps writing past its budget: the daemon stops taking objects,
// and the records saying so must still be written.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "crypto/sm2.h"
#include "ferry/audit/event.h"

namespace ferry::audit {

inline constexpr std::size_t kHeadSlotBytes = 512;
inline constexpr std::string_view kHeadFile = "head";
inline constexpr std::string_view kCheckpointEvent = "audit.checkpoint";
inline constexpr std::string_view kSegmentRemovedEvent = "audit.segment_removed";

enum class OnFull { block, overwrite_oldest };

struct LogOptions {
  std::string dir;
  std::string side;  // outer | inner: no spaces, at most 64 bytes (it is in the seal line)
  std::uint64_t segment_size = 64ull << 20;
  std::uint64_t checkpoint_records = 1000;
  std::chrono::seconds checkpoint_interval{60};
  std::chrono::days retention{180};  // PRC Cybersecurity Law art. 21: at least six months
  std::optional<std::uint64_t> max_size;  // budget for the directory's segments; nullopt: the file system
  std::uint64_t min_free = 64ull << 20;   // file system reserve, counted as used
  double warn_at = 0.8;
  OnFull on_full = OnFull::block;
};

struct Storage {
  std::uint64_t bytes = 0;                // the segments' bytes
  std::optional<std::uint64_t> budget;    // max_size, when set
  double fill = 0;                        // 0..1+: bytes/max_size, or the file system's use with min_free
  enum Level { ok, warning, full } level = ok;
};

struct RemovedSegment {
  std::string file;  // the segment's name, without DIR
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::string why;  // retention | overwrite_oldest
};

struct Maintenance {
  std::vector<RemovedSegment> removed;
  Storage storage;  // after the removals
  // Set when on_full is overwrite_oldest, storage is full and nothing more
  // may be removed (nothing past retention or exported): the log stays full.
  bool stuck_full = false;
};

// The hex SM3 of the key's uncompressed public point: the `key` field of a
// checkpoint, the same value as policy::fingerprint.
std::string key_fingerprint(const crypto::Sm2PublicKey& key);

// The message a checkpoint's `sig` signs (see above).
std::string checkpoint_message(std::string_view side, std::uint64_t covers, std::string_view prev_hash);

// One slot of DIR/head, parsed. The signature is not checked here.
struct HeadSeal {
  std::string side;
  unsigned slot = 0;
  std::uint64_t seq = 0;
  std::string hash;
  std::string ts;
  std::string signed_text;  // the line up to " sig="
  crypto::Bytes sig;
};
// Errc::bad_format for a slot that is not exactly what the log writes.
crypto::Result<HeadSeal> parse_head_slot(std::string_view slot_bytes);

class AuditLog {
 public:
  // Creates DIR (0700) if needed and continues the chain of the newest
  // segment. A torn last line (a crash mid-write) is cut back to the last
  // newline, and the cut is recorded ("audit.recovered", with the bytes).
  // When the newest records disagree with the head seal the log records
  // "audit.head_mismatch" (severity error) and opens all the same: refusing
  // to start would let whoever truncated the log stop the boundary.
  static crypto::Result<std::unique_ptr<AuditLog>> open(LogOptions options, crypto::Sm2PrivateKey key);
  ~AuditLog();  // best-effort sync()
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one record for `e` (fields in the event's order), then a
  // checkpoint when one is due. Rotates to a new segment once the current
  // one has reached segment_size. Durable only after sync(). `line`, when
  // given, receives the event's record line as written (without '\n').
  crypto::Status append(const Event& e, std::chrono::system_clock::time_point now, std::string* line = nullptr);
  // fdatasync of the segment, then a new head seal. Cheap when nothing was
  // appended since the last one.
  crypto::Status sync();
  // A checkpoint now, unless the newest record already is one (ferryd calls
  // it at stop).
  crypto::Status checkpoint(std::chrono::system_clock::time_point now);

  // Removes what retention and on_full allow (see the top of this file) and
  // records storage level changes ("audit.storage_warning",
  // "audit.storage_full", "audit.storage_ok"). exported_seq: every record up
  // to it has been exported (syslog), 0 for none.
  crypto::Result<Maintenance> maintain(std::chrono::system_clock::time_point now, std::uint64_t exported_seq);

  Storage storage() const;
  std::uint64_t last_seq() const { return last_seq_; }
  const std::string& last_hash() const { return last_hash_; }
  std::uint64_t records_appended() const { return records_appended_; }  // by this instance, checkpoints included
  // The newest checkpoint's time; before there is one, when the log opened.
  std::chrono::system_clock::time_point last_checkpoint() const { return last_checkpoint_; }
  std::uint64_t sealed_seq() const { return sealed_seq_; }
  const LogOptions& options() const { return options_; }

 private:
  AuditLog(LogOptions options, crypto::Sm2PrivateKey key);
  crypto::Status recover(std::vector<Event>& found);
  crypto::Status open_segment(std::uint64_t first_seq);
  crypto::Status write_record(std::string_view event, Severity severity,
                              const std::vector<std::pair<std::string, std::string>>& fields,
                              std::chrono::system_clock::time_point now, std::string* written = nullptr);
  crypto::Status write_checkpoint(std::chrono::system_clock::time_point now);
  crypto::Status write_seal();
  crypto::Status remove_segment(const std::string& path, std::uint64_t size, RemovedSegment what,
                                const std::string& last_hash, std::chrono::system_clock::time_point now);

  LogOptions options_;
  crypto::Sm2PrivateKey key_;
  std::string fingerprint_;
  int fd_ = -1;  // the current segment
  std::string segment_path_;
  std::uint64_t segment_first_ = 0;
  std::uint64_t segment_bytes_ = 0;
  bool dir_dirty_ = false;  // a segment was created or removed since the last directory fsync
  int head_fd_ = -1;
  unsigned next_slot_ = 0;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t last_seq_ = 0;
  std::string last_hash_;
  bool last_is_checkpoint_ = false;
  std::uint64_t records_appended_ = 0;
  std::uint64_t since_checkpoint_ = 0;
  std::chrono::system_clock::time_point last_checkpoint_{};
  bool checkpoint_clock_started_ = false;
  std::uint64_t sealed_seq_ = 0;
  std::string sealed_hash_;
  Storage::Level level_ = Storage::ok;
};

}  // namespace ferry::audit

// The receiving side's exactly-once store: the ids of objects already
// delivered, so a retransmitted object (the sender never saw our ack) is
// acknowledged again but not delivered twice.
//
// Format: an append-only log in segments, <dir>/<start-ms, 20 digits>.ids,
// each a header line "ferry-delivered-ids/1" then one 32-hex id per line.
// remember() appends and fdatasyncs before it returns, so an id it reported
// survives kill -9 and power loss; remember_batch() pays one fdatasync for
// many ids. Why a log rather than one empty file per id: one write+fdatasync
// per id (or per batch) instead of a create plus a directory fsync, no inode
// per id, and retention is whole-segment deletion. The price is that the set
// lives in memory (about 60 bytes per id) and is rebuilt at open.
//
// Crash safety: a segment is created, fsynced and its directory fsynced
// before any id goes into it; appends only ever go to the newest segment, and
// every open starts a new one, so a torn write can only be the last bytes of
// a segment. Open drops such a tail (it was never acknowledged) and truncates
// it away; invalid content anywhere else is an error, not guessed around.
//
// Retention: a segment is closed after kSegmentIds ids or kSegmentSpanMs of
// wall time. Every id in a closed segment was remembered before the next
// segment started, so prune(t) deletes each segment whose successor started
// at or before t. The newest segment is never pruned.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "crypto/result.h"
#include "ferry/spool/clock.h"
#include "ferry/spool/object_id.h"

namespace ferry::spool {

class DeliveredIds {
 public:
  static constexpr std::size_t kSegmentIds = 100000;
  static constexpr std::int64_t kSegmentSpanMs = 3600 * 1000;

  // Creates `dir` (one level, 0700) when missing and loads every segment.
  static crypto::Result<DeliveredIds> open(const std::string& dir, Clock clock = system_clock_ms);

  DeliveredIds(DeliveredIds&&) noexcept;
  DeliveredIds& operator=(DeliveredIds&&) noexcept;
  ~DeliveredIds();

  bool contains(const ObjectId& id) const;
  // Durable when it returns. An id already known is not written again.
  crypto::Status remember(const ObjectId& id);
  crypto::Status remember_batch(std::span<const ObjectId> ids);
  // Forgets ids remembered before `older_than_ms` (whole segments only, so
  // some older ids may stay until their segment goes). Returns how many ids
  // were forgotten.
  crypto::Result<std::size_t> prune(std::int64_t older_than_ms);

  std::size_t size() const;
  std::size_t segment_count() const;

 private:
  struct Impl;
  explicit DeliveredIds(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::spool

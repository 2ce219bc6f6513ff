#include "ferry/telemetry/src/audit_tail.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "ferry/audit/segments.h"
#include "ferry/fs/fd.h"

namespace ferry::telemetry {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
}

void AuditTail::seek_after(std::uint64_t after, std::string hash) {
  after_ = after;
  check_seq_ = after;
  check_hash_ = std::move(hash);
  positioned_ = false;
}

bool AuditTail::position() {
  crypto::Result<std::vector<audit::Segment>> segments = audit::list_segments(dir_);
  if (!segments || segments->empty()) return false;
  // The newest segment whose first record is at or before after_ holds it
  // (read again so its hash can be checked, see seek_after); when the log
  // has removed older ones, the oldest left is where to go.
  const audit::Segment* chosen = &segments->front();
  for (const audit::Segment& s : *segments) {
    if (s.first_seq <= std::max<std::uint64_t>(after_, 1)) chosen = &s;
  }
  path_ = chosen->path;
  first_seq_ = chosen->first_seq;
  file_offset_ = 0;
  buf_.clear();
  pos_ = 0;
  discarding_ = false;
  positioned_ = true;
  return true;
}

bool AuditTail::fill() {
  fs::Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    // Removed under us (the log drops exported segments): find our place again.
    positioned_ = false;
    return false;
  }
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    file_offset_ += pos_;
    pos_ = 0;
  }
  const std::size_t old = buf_.size();
  buf_.resize(old + kReadChunk);
  ssize_t n;
  do {
    n = ::pread(fd.get(), buf_.data() + old, kReadChunk, static_cast<off_t>(file_offset_ + old));
  } while (n < 0 && errno == EINTR);
  buf_.resize(old + (n > 0 ? static_cast<std::size_t>(n) : 0));
  return n > 0;
}

bool AuditTail::move_to_newer_segment() {
  crypto::Result<std::vector<audit::Segment>> segments = audit::list_segments(dir_);
  if (!segments) return false;
  for (const audit::Segment& s : *segments) {
    if (s.first_seq > first_seq_) {
      path_ = s.path;
      first_seq_ = s.first_seq;
      file_offset_ = 0;
      buf_.clear();
      pos_ = 0;
      discarding_ = false;
      return true;
    }
  }
  return false;
}

std::optional<AuditTail::Item> AuditTail::next(std::uint64_t limit, std::uint64_t& skipped) {
  if (after_ >= limit) return std::nullopt;
  if (!positioned_ && !position()) return std::nullopt;
  for (;;) {
    const std::size_t nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
      if (buf_.size() - pos_ > audit::kMaxRecordBytes) {
        // A line longer than any record: drop what we hold so a hostile file
        // cannot make us buffer without bound, and pass over the rest of it.
        pos_ = buf_.size();
        if (!discarding_) ++skipped;
        discarding_ = true;
      }
      if (fill()) continue;
      if (!positioned_) return std::nullopt;
      // The end of this segment. A partial last line is the log at work
      // (or a torn write): wait for it, unless a newer segment has begun,
      // which means this one will grow no more.
      const bool torn = buf_.size() > pos_ && !discarding_;
      if (!move_to_newer_segment()) return std::nullopt;
      if (torn) ++skipped;
      continue;
    }
    const std::string_view line(buf_.data() + pos_, nl - pos_);
    if (discarding_) {
      discarding_ = false;
      pos_ = nl + 1;
      continue;
    }
    crypto::Result<audit::Record> record = audit::parse_record(line);
    if (!record) {
      ++skipped;
      pos_ = nl + 1;
      continue;
    }
    if (record->seq == check_seq_ && !check_hash_.empty()) {
      mismatch_ = record->hash != check_hash_;
      check_hash_.clear();
    }
    if (record->seq <= after_) {
      pos_ = nl + 1;
      continue;
    }
    if (record->seq > limit) return std::nullopt;
    Item item{std::move(record).value(), std::string(line)};
    pos_ = nl + 1;
    after_ = item.record.seq;
    return item;
  }
}

}  // namespace ferry::telemetry

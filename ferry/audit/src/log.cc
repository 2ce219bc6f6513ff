#include "ferry/audit/log.h"
#include "ferry/audit/src/read_whole.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/bytes.h"
#include "crypto/sm3.h"
#include "ferry/audit/record.h"
#include "ferry/audit/segments.h"

namespace ferry::audit {

namespace {

using crypto::Errc;
using crypto::Result;
using crypto::Status;
using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kHeadMagic = "ferry-audit-head/1";

crypto::Error sys_error(const std::string& what) {
  return crypto::make_error(Errc::io, what + ": " + std::strerror(errno));
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(path);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

Result<std::string> read_whole(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return sys_error(path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      crypto::Error e = sys_error(path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

namespace {

// The last complete line of a segment, parsed: enough to know a segment's
// last seq, hash and time without reading it all.
Result<Record> last_record_of(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return sys_error(path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    crypto::Error e = sys_error(path);
    ::close(fd);
    return e;
  }
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t want = std::min<std::uint64_t>(size, kMaxRecordBytes + 2);
  std::string tail(want, '\0');
  const ssize_t n = ::pread(fd, tail.data(), want, static_cast<off_t>(size - want));
  ::close(fd);
  if (n != static_cast<ssize_t>(want)) return crypto::make_error(Errc::io, path + ": short read");
  const std::size_t end = tail.rfind('\n');
  if (end == std::string::npos) return crypto::make_error(Errc::bad_format, path + ": no complete record");
  const std::size_t start = end == 0 ? std::string::npos : tail.rfind('\n', end - 1);
  if (start == std::string::npos && want < size) {
    return crypto::make_error(Errc::bad_format, path + ": last line longer than a record");
  }
  const std::size_t from = start == std::string::npos ? 0 : start + 1;
  Result<Record> r = parse_record(std::string_view(tail).substr(from, end - from));
  if (!r.ok()) return crypto::make_error(Errc::bad_format, path + ": last record: " + r.error().message);
  return r;
}

bool valid_side(std::string_view side) {
  if (side.empty() || side.size() > 64) return false;
  for (char c : side) {
    if (c <= ' ' || c == '=' || c >= 0x7F) return false;
  }
  return true;
}

[[maybe_unused]] bool reserved_field(std::string_view key) {
  return key == "seq" || key == "ts" || key == "side" || key == "severity" || key == "event" || key == "prev" ||
         key == "hash";
}

std::string severity_name(Severity s) {
  static constexpr const char* kNames[] = {"info", "notice", "warning", "error"};
  return kNames[static_cast<int>(s)];
}

std::string head_signed_text(std::string_view side, unsigned slot, std::uint64_t seq, std::string_view hash,
                             std::string_view ts) {
  return std::string(kHeadMagic) + " side=" + std::string(side) + " slot=" + std::to_string(slot) +
         " seq=" + std::to_string(seq) + " hash=" + std::string(hash) + " ts=" + std::string(ts);
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s[0] == '0' && s.size() > 1)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::string fill_text(double fill) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", fill);
  return buf;
}

}  // namespace

std::string key_fingerprint(const crypto::Sm2PublicKey& key) {
  return crypto::to_hex(crypto::Sm3::digest(key.point()));
}

std::string checkpoint_message(std::string_view side, std::uint64_t covers, std::string_view prev_hash) {
  return "ferry-audit-checkpoint/1 side=" + std::string(side) + " seq=" + std::to_string(covers) +
         " hash=" + std::string(prev_hash);
}

Result<HeadSeal> parse_head_slot(std::string_view slot_bytes) {
  auto bad = [](const std::string& what) { return crypto::make_error(Errc::bad_format, "head slot: " + what); };
  if (slot_bytes.size() != kHeadSlotBytes || slot_bytes.back() != '\n') return bad("not a whole slot");
  std::string_view line = slot_bytes.substr(0, kHeadSlotBytes - 1);
  while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
  const std::size_t sig_at = line.find(" sig=");
  if (sig_at == std::string_view::npos) return bad("no signature");
  HeadSeal h;
  h.signed_text = std::string(line.substr(0, sig_at));
  std::vector<std::string_view> tokens;
  for (std::string_view rest = h.signed_text; !rest.empty();) {
    const std::size_t sp = rest.find(' ');
    tokens.push_back(rest.substr(0, sp));
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  static constexpr std::string_view kKeys[] = {"side=", "slot=", "seq=", "hash=", "ts="};
  if (tokens.size() != 6 || tokens[0] != kHeadMagic) return bad("not a ferry-audit-head/1 line");
  for (std::size_t i = 0; i < 5; ++i) {
    if (!tokens[i + 1].starts_with(kKeys[i])) return bad("expected " + std::string(kKeys[i]));
    tokens[i + 1].remove_prefix(kKeys[i].size());
  }
  h.side = std::string(tokens[1]);
  if (tokens[2] != "0" && tokens[2] != "1") return bad("slot is not 0 or 1");
  h.slot = tokens[2] == "1" ? 1u : 0u;
  std::optional<std::uint64_t> seq = parse_decimal(tokens[3]);
  if (!seq || *seq == 0) return bad("seq is not a positive integer");
  h.seq = *seq;
  h.hash = std::string(tokens[4]);
  h.ts = std::string(tokens[5]);
  std::optional<crypto::Bytes> hash = crypto::from_hex(h.hash);
  if (!hash || hash->size() != 32 || crypto::to_hex(*hash) != h.hash) return bad("hash is not 64 lower-case hex");
  if (!parse_timestamp(h.ts)) return bad("ts is not a UTC timestamp");
  std::optional<crypto::Bytes> sig = crypto::from_hex(line.substr(sig_at + 5));
  if (!sig || sig->empty() || crypto::to_hex(*sig) != line.substr(sig_at + 5)) return bad("sig is not lower-case hex");
  h.sig = std::move(*sig);
  if (!valid_side(h.side) || head_signed_text(h.side, h.slot, h.seq, h.hash, h.ts) != h.signed_text) {
    return bad("not in the form ferry writes");
  }
  return h;
}

AuditLog::AuditLog(LogOptions options, crypto::Sm2PrivateKey key)
    : options_(std::move(options)), key_(std::move(key)), last_hash_(kGenesisHash) {
  fingerprint_ = crypto::to_hex(crypto::Sm3::digest(key_.public_point()));
}

AuditLog::~AuditLog() {
  (void)sync();
  if (fd_ >= 0) ::close(fd_);
  if (head_fd_ >= 0) ::close(head_fd_);
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(LogOptions options, crypto::Sm2PrivateKey key) {
  if (!valid_side(options.side)) {
    return crypto::make_error(Errc::invalid_argument, "audit log: side must be 1..64 printable bytes without spaces");
  }
  if (options.dir.empty()) return crypto::make_error(Errc::invalid_argument, "audit log: no directory");
  if (::mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) return sys_error(options.dir);
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options), std::move(key)));
  std::vector<Event> found;
  const auto now = std::chrono::system_clock::now();
  if (Status s = log->recover(found); !s.ok()) return s.error();
  for (const Event& e : found) {
    if (Status s = log->append(e, now); !s.ok()) return s.error();
  }
  if (!found.empty()) {
    if (Status s = log->sync(); !s.ok()) return s.error();
  }
  return log;
}

// Finds where the chain ends, cuts a torn last line, and compares the end
// with the head seal. What it finds that must be recorded goes to `found`.
Status AuditLog::recover(std::vector<Event>& found) {
  Result<std::vector<Segment>> listed = list_segments(options_.dir);
  if (!listed.ok()) return listed.error();
  std::vector<Segment>& segments = *listed;
  for (const Segment& s : segments) total_bytes_ += s.size;

  // The newest segment is read whole (once, at start): a torn line is cut,
  // and an unreadable last record is stepped over to the last good one so
  // that the chain continues from a record verify will accept.
  std::string newest_text;
  if (!segments.empty()) {
    Segment& newest = segments.back();
    Result<std::string> text = read_whole(newest.path);
    if (!text.ok()) return text.error();
    newest_text = std::move(*text);
    const std::size_t keep = newest_text.empty() ? 0 : newest_text.rfind('\n') + 1;  // npos + 1 == 0
    if (keep < newest_text.size()) {
      const std::uint64_t cut = newest_text.size() - keep;
      if (::truncate(newest.path.c_str(), static_cast<off_t>(keep)) != 0) return sys_error(newest.path);
      newest_text.resize(keep);
      total_bytes_ -= cut;
      newest.size = keep;
      Event e{"audit.recovered", Severity::warning, {}};
      e.with("file", segment_name(newest.first_seq))
          .with("bytes", std::to_string(cut))
          .with("detail", "torn last line cut (a crash during a write)");
      found.push_back(std::move(e));
    }
  }
  // Every record of the newest segment by seq, for the head check below.
  std::vector<Record> newest_records;
  std::size_t unreadable = 0;
  for (std::size_t at = 0; at < newest_text.size();) {
    const std::size_t nl = newest_text.find('\n', at);
    Result<Record> r = parse_record(std::string_view(newest_text).substr(at, nl - at));
    if (r.ok()) {
      newest_records.push_back(std::move(r).value());
    } else {
      ++unreadable;
    }
    at = nl + 1;
  }
  std::optional<Record> last;
  if (!newest_records.empty()) {
    last = newest_records.back();
  } else {
    for (std::size_t i = segments.size(); i-- > 0;) {
      if (i + 1 == segments.size()) continue;
      Result<Record> r = last_record_of(segments[i].path);
      if (r.ok()) {
        last = std::move(r).value();
        break;
      }
    }
  }
  if (unreadable > 0) {
    Event e{"audit.recovered", Severity::error, {}};
    e.with("file", segment_name(segments.back().first_seq))
        .with("detail", std::to_string(unreadable) + " unreadable record(s) in the newest segment; continuing after seq " +
                            std::to_string(last ? last->seq : 0));
    found.push_back(std::move(e));
  }
  // The interval between checkpoints runs across restarts: from the newest
  // checkpoint on disk, else from the first append.
  last_checkpoint_ = std::chrono::system_clock::now();
  for (auto it = newest_records.rbegin(); it != newest_records.rend(); ++it) {
    if (it->event != kCheckpointEvent) continue;
    if (std::optional<std::int64_t> ms = parse_timestamp(it->ts)) {
      last_checkpoint_ = std::chrono::system_clock::time_point(std::chrono::milliseconds(*ms));
      checkpoint_clock_started_ = true;
    }
    break;
  }
  if (last) {
    last_seq_ = last->seq;
    last_hash_ = last->hash;
    last_is_checkpoint_ = last->event == kCheckpointEvent;
  }
  if (!segments.empty() && !newest_text.empty() && segments.back().size < options_.segment_size) {
    segment_path_ = segments.back().path;
    segment_first_ = segments.back().first_seq;
    fd_ = ::open(segment_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd_ < 0) return sys_error(segment_path_);
    segment_bytes_ = segments.back().size;
  }

  // The head seal.
  const std::string head_path = options_.dir + "/" + std::string(kHeadFile);
  head_fd_ = ::open(head_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (head_fd_ < 0) return sys_error(head_path);
  std::optional<HeadSeal> seal;
  const crypto::Sm2PublicKey pub = key_.public_key();
  for (unsigned slot = 0; slot < 2; ++slot) {
    std::string bytes(kHeadSlotBytes, '\0');
    const ssize_t n = ::pread(head_fd_, bytes.data(), bytes.size(), static_cast<off_t>(slot * kHeadSlotBytes));
    if (n != static_cast<ssize_t>(bytes.size())) continue;
    Result<HeadSeal> h = parse_head_slot(bytes);
    if (!h.ok() || h->slot != slot || h->side != options_.side ||
        !crypto::sm2_verify(pub, crypto::as_bytes(h->signed_text), h->sig)) {
      continue;
    }
    if (!seal || h->seq > seal->seq) seal = std::move(h).value();
  }
  if (seal) {
    sealed_seq_ = seal->seq;
    sealed_hash_ = seal->hash;
    next_slot_ = seal->slot ^ 1u;
  } else {
    dir_dirty_ = true;  // the head may be new
  }

  std::string mismatch;
  if (!seal) {
    if (last_seq_ > 0) mismatch = "no valid head seal, but the log holds records up to seq " + std::to_string(last_seq_);
  } else if (seal->seq > last_seq_) {
    mismatch = "the log ends at seq " + std::to_string(last_seq_) + " but the head seal covers seq " +
               std::to_string(seal->seq) + ": the newest records were removed";
  } else {
    std::optional<std::string> hash_there;
    for (const Record& r : newest_records) {
      if (r.seq == seal->seq) hash_there = r.hash;
    }
    if (!hash_there) {
      // An older segment: the one whose first seq is the greatest not above the seal's.
      for (std::size_t i = segments.size(); i-- > 0 && !hash_there;) {
        if (segments[i].first_seq > seal->seq) continue;
        Result<std::string> text = read_whole(segments[i].path);
        if (!text.ok()) break;
        for (std::size_t at = 0; at < text->size();) {
          const std::size_t nl = text->find('\n', at);
          Result<Record> r = parse_record(std::string_view(*text).substr(at, nl - at));
          if (r.ok() && r->seq == seal->seq) hash_there = r->hash;
          at = nl == std::string::npos ? text->size() : nl + 1;
        }
        break;
      }
    }
    if (!hash_there) {
      mismatch = "the record at the head seal's seq " + std::to_string(seal->seq) + " is missing";
    } else if (*hash_there != seal->hash) {
      mismatch = "the record at the head seal's seq " + std::to_string(seal->seq) +
                 " has another hash: the newest records were replaced";
    }
  }
  if (!mismatch.empty()) {
    Event e{"audit.head_mismatch", Severity::error, {}};
    e.with("sealed_seq", std::to_string(seal ? seal->seq : 0)).with("detail", mismatch);
    found.push_back(std::move(e));
  }
  return {};
}

Status AuditLog::open_segment(std::uint64_t first_seq) {
  segment_path_ = options_.dir + "/" + segment_name(first_seq);
  fd_ = ::open(segment_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return sys_error(segment_path_);
  struct stat st;
  if (::fstat(fd_, &st) != 0) return sys_error(segment_path_);
  segment_first_ = first_seq;
  segment_bytes_ = static_cast<std::uint64_t>(st.st_size);
  dir_dirty_ = true;
  return {};
}

Status AuditLog::write_record(std::string_view event, Severity severity, const Fields& fields,
                              std::chrono::system_clock::time_point now, std::string* written) {
  assert(!event.empty());
  Record r;
  r.seq = last_seq_ + 1;
  r.ts = format_timestamp(now);
  r.side = options_.side;
  r.severity = severity_name(severity);
  r.event = std::string(event);
  r.fields = fields;
  r.prev = last_hash_;
  std::string line = format_record(r);
  // A record longer than kMaxRecordBytes would not parse back; hostile names
  // and long reason lists are cut (saying so) rather than lose the record.
  for (std::size_t cap = 4096; line.size() > kMaxRecordBytes && cap >= 32; cap /= 4) {
    r.fields = fields;
    for (auto& [k, v] : r.fields) {
      if (v.size() > cap) v = v.substr(0, cap) + "...(" + std::to_string(v.size() - cap) + " bytes cut)";
    }
    line = format_record(r);
  }
  assert(line.size() <= kMaxRecordBytes);
  line += '\n';

  if (fd_ >= 0 && segment_bytes_ >= options_.segment_size) {
    // Rotation: the finished segment is made durable now, since sync() only
    // reaches the current one.
    if (::fdatasync(fd_) != 0) return sys_error(segment_path_);
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) {
    if (Status s = open_segment(r.seq); !s.ok()) return s;
  }
  if (Status s = write_all(fd_, line, segment_path_); !s.ok()) {
    // A partial line would sit in the middle of the chain: take it back.
    if (::ftruncate(fd_, static_cast<off_t>(segment_bytes_)) != 0) { /* the next open cuts it */ }
    return s;
  }
  segment_bytes_ += line.size();
  total_bytes_ += line.size();
  if (written != nullptr) *written = line.substr(0, line.size() - 1);
  last_seq_ = r.seq;
  last_hash_ = std::move(r.hash);
  last_is_checkpoint_ = event == kCheckpointEvent;
  ++records_appended_;
  return {};
}

Status AuditLog::append(const Event& e, std::chrono::system_clock::time_point now, std::string* line) {
  assert(!e.type.empty());
  for ([[maybe_unused]] const auto& [k, v] : e.fields) assert(!reserved_field(k));
  if (!checkpoint_clock_started_) {
    last_checkpoint_ = now;
    checkpoint_clock_started_ = true;
  }
  if (Status s = write_record(e.type, e.severity, e.fields, now, line); !s.ok()) return s;
  ++since_checkpoint_;
  if (since_checkpoint_ >= options_.checkpoint_records || now - last_checkpoint_ >= options_.checkpoint_interval) {
    return write_checkpoint(now);
  }
  return {};
}

Status AuditLog::write_checkpoint(std::chrono::system_clock::time_point now) {
  const std::string message = checkpoint_message(options_.side, last_seq_, last_hash_);
  Result<crypto::Bytes> sig = crypto::sm2_sign(key_, crypto::as_bytes(message));
  if (!sig.ok()) return sig.error();
  Fields fields{{"covers", std::to_string(last_seq_)}, {"key", fingerprint_}, {"sig", crypto::to_hex(*sig)}};
  if (Status s = write_record(kCheckpointEvent, Severity::info, fields, now); !s.ok()) return s;
  since_checkpoint_ = 0;
  last_checkpoint_ = now;
  checkpoint_clock_started_ = true;
  return {};
}

Status AuditLog::checkpoint(std::chrono::system_clock::time_point now) {
  if (last_seq_ == 0 || last_is_checkpoint_) return {};
  return write_checkpoint(now);
}

Status AuditLog::write_seal() {
  const std::string ts = format_timestamp(std::chrono::system_clock::now());
  const std::string text = head_signed_text(options_.side, next_slot_, last_seq_, last_hash_, ts);
  Result<crypto::Bytes> sig = crypto::sm2_sign(key_, crypto::as_bytes(text));
  if (!sig.ok()) return sig.error();
  std::string slot = text + " sig=" + crypto::to_hex(*sig);
  assert(slot.size() < kHeadSlotBytes);
  slot.resize(kHeadSlotBytes - 1, ' ');
  slot += '\n';
  const std::string path = options_.dir + "/" + std::string(kHeadFile);
  for (std::size_t done = 0; done < slot.size();) {
    const ssize_t n = ::pwrite(head_fd_, slot.data() + done, slot.size() - done,
                               static_cast<off_t>(next_slot_ * kHeadSlotBytes + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(path);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(head_fd_) != 0) return sys_error(path);
  next_slot_ ^= 1u;
  sealed_seq_ = last_seq_;
  sealed_hash_ = last_hash_;
  return {};
}

Status AuditLog::sync() {
  const bool sealed = last_seq_ == sealed_seq_ && last_hash_ == sealed_hash_;
  if (sealed && !dir_dirty_) return {};
  if (fd_ >= 0 && ::fdatasync(fd_) != 0) return sys_error(segment_path_);
  if (dir_dirty_) {
    const int dfd = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return sys_error(options_.dir);
    const int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) return sys_error(options_.dir);
    dir_dirty_ = false;
  }
  if (last_seq_ > 0 && !sealed) return write_seal();
  return {};
}

Storage AuditLog::storage() const {
  Storage s;
  s.bytes = total_bytes_;
  if (options_.max_size) {
    s.budget = options_.max_size;
    s.fill = *options_.max_size == 0 ? 1.0 : static_cast<double>(total_bytes_) / static_cast<double>(*options_.max_size);
  } else {
    struct statvfs vfs;
    if (::statvfs(options_.dir.c_str(), &vfs) != 0 || vfs.f_blocks == 0) {
      s.fill = 1.0;  // unknown is treated as full (FAU_STG.4: prevent loss)
    } else {
      const double total = static_cast<double>(vfs.f_blocks) * static_cast<double>(vfs.f_frsize);
      const double avail = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize);
      s.fill = (total - avail + static_cast<double>(options_.min_free)) / total;
    }
  }
  s.level = s.fill >= 1.0 ? Storage::full : s.fill >= options_.warn_at ? Storage::warning : Storage::ok;
  return s;
}

Status AuditLog::remove_segment(const std::string& path, std::uint64_t size, RemovedSegment what,
                                const std::string& last_hash, std::chrono::system_clock::time_point now) {
  // Recorded and made durable before the file goes, so that no crash leaves
  // a removal without its record (verify would call it a deletion).
  Event e{std::string(kSegmentRemovedEvent), Severity::notice, {}};
  e.with("file", what.file)
      .with("first_seq", std::to_string(what.first_seq))
      .with("last_seq", std::to_string(what.last_seq))
      .with("last_hash", last_hash)
      .with("why", what.why);
  if (Status s = append(e, now); !s.ok()) return s;
  if (Status s = sync(); !s.ok()) return s;
  if (::unlink(path.c_str()) != 0) return sys_error(path);
  total_bytes_ -= std::min(total_bytes_, size);
  dir_dirty_ = true;
  return sync();
}

Result<Maintenance> AuditLog::maintain(std::chrono::system_clock::time_point now, std::uint64_t exported_seq) {
  Maintenance m;
  Result<std::vector<Segment>> listed = list_segments(options_.dir);
  if (!listed.ok()) return listed.error();
  // Never the current segment, nor the newest on disk (it holds the chain's end).
  std::vector<Segment> candidates = std::move(listed).value();
  if (!candidates.empty()) candidates.pop_back();
  std::erase_if(candidates, [&](const Segment& s) { return s.path == segment_path_; });

  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto retention_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
  std::size_t next = 0;
  // Oldest first, stopping at the first that must stay, so that what is
  // left is always one unbroken run of the chain.
  for (; next < candidates.size(); ++next) {
    Result<Record> last = last_record_of(candidates[next].path);
    if (!last.ok()) break;  // unreadable: evidence, not ours to remove
    const std::optional<std::int64_t> ts = parse_timestamp(last->ts);
    if (!ts || *ts + retention_ms > now_ms) break;
    RemovedSegment what{segment_name(candidates[next].first_seq), candidates[next].first_seq, last->seq, "retention"};
    if (Status s = remove_segment(candidates[next].path, candidates[next].size, what, last->hash, now); !s.ok()) {
      return s.error();
    }
    m.removed.push_back(std::move(what));
  }
  if (options_.on_full == OnFull::overwrite_oldest && storage().level == Storage::full) {
    for (; next < candidates.size() && storage().fill >= options_.warn_at; ++next) {
      Result<Record> last = last_record_of(candidates[next].path);
      if (!last.ok() || last->seq > exported_seq) break;
      RemovedSegment what{segment_name(candidates[next].first_seq), candidates[next].first_seq, last->seq,
                          "overwrite_oldest"};
      if (Status s = remove_segment(candidates[next].path, candidates[next].size, what, last->hash, now); !s.ok()) {
        return s.error();
      }
      m.removed.push_back(std::move(what));
    }
  }
  Storage s = storage();
  m.stuck_full = options_.on_full == OnFull::overwrite_oldest && s.level == Storage::full;
  if (s.level != level_) {
    Event e;
    switch (s.level) {
      case Storage::ok: e = Event{"audit.storage_ok", Severity::notice, {}}; break;
      case Storage::warning: e = Event{"audit.storage_warning", Severity::warning, {}}; break;
      case Storage::full: {
        e = Event{"audit.storage_full", Severity::error, {}};
        break;
      }
    }
    e.with("fill", fill_text(s.fill)).with("bytes", std::to_string(s.bytes));
    if (s.budget) e.with("budget", std::to_string(*s.budget));
    if (s.level == Storage::full) {
      e.with("detail", options_.on_full == OnFull::block
                           ? "on_full=block: the side stops taking objects; audit records are still written"
                           : "on_full=overwrite_oldest: nothing past retention or exported is left to remove");
    }
    if (Status st = append(e, now); !st.ok()) return st.error();
    level_ = s.level;
    if (Status st = sync(); !st.ok()) return st.error();
    s = storage();
  }
  m.storage = s;
  return m;
}

}  // namespace ferry::audit

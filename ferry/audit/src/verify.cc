#include "ferry/audit/verify.h"
#include "ferry/audit/src/read_whole.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "crypto/bytes.h"
#include "ferry/audit/log.h"
#include "ferry/audit/record.h"
#include "ferry/audit/segments.h"

namespace ferry::audit {

namespace {

std::optional<std::string> read_whole(const std::string& path, std::string& error) {
  crypto::Result<std::string> text = audit::read_whole(path);
  if (!text.ok()) {
    error = text.error().message;
    return std::nullopt;
  }
  return std::move(text).value();
}

std::optional<std::uint64_t> decimal(const std::string* s) {
  if (s == nullptr || s->empty() || s->size() > 20 || ((*s)[0] == '0' && s->size() > 1)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : *s) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::string range(std::uint64_t a, std::uint64_t b) {
  return a == b ? "record " + std::to_string(a) : "records " + std::to_string(a) + ".." + std::to_string(b);
}

// A removal the log recorded (log.h, "audit.segment_removed").
struct Removal {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::string last_hash;
  std::string why;
  std::uint64_t at = 0;  // the seq of the removal record
};

// A jump in seq at a segment boundary: a deletion unless removal records
// cover exactly the missing seqs, ending with the hash the next record chains to.
struct Gap {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::string next_prev;  // `prev` of the record after the gap
  bool leading = false;   // before the first record that remains
  std::uint64_t position = 0;
  VerifyProblem problem;
};

const Removal* removal_ending(const std::vector<Removal>& all, std::uint64_t last) {
  for (const Removal& r : all) {
    if (r.last == last) return &r;
  }
  return nullptr;
}

const Removal* removal_starting(const std::vector<Removal>& all, std::uint64_t first) {
  for (const Removal& r : all) {
    if (r.first == first) return &r;
  }
  return nullptr;
}

// Whether removal records account for the gap; `note` says how when they do.
bool covered(const Gap& gap, const std::vector<Removal>& all, std::string& note) {
  if (gap.leading) {
    // Walked back from the first remaining record: the removal records of
    // the very oldest segments may themselves have gone with a later removal,
    // so the chain of removals need not reach seq 1.
    const Removal* r = removal_ending(all, gap.to);
    if (r == nullptr || r->last_hash != gap.next_prev) return false;
    std::uint64_t first = r->first;
    const std::string why = r->why;
    const std::uint64_t at = r->at;
    while (first > 1) {
      const Removal* before = removal_ending(all, first - 1);
      if (before == nullptr) break;
      first = before->first;
    }
    note = range(first, gap.to) + " removed by " + why + " (recorded at seq " + std::to_string(at) + ")";
    if (first > 1) note += "; " + range(1, first - 1) + " removed earlier, their removal records with them";
    return true;
  }
  std::uint64_t next = gap.from;
  std::string why;
  while (next <= gap.to) {
    const Removal* r = removal_starting(all, next);
    if (r == nullptr || r->last > gap.to) return false;
    why = r->why;
    next = r->last + 1;
    if (next == gap.to + 1 && r->last_hash != gap.next_prev) return false;
  }
  note = range(gap.from, gap.to) + " removed by " + why;
  return true;
}

class Walk {
 public:
  Walk(std::string dir, const std::optional<crypto::Sm2PublicKey>& key) : dir_(std::move(dir)), key_(key) {
    if (key_) fingerprint_ = key_fingerprint(*key_);
  }

  VerifyReport run();

 private:
  static constexpr std::uint64_t kEnd = std::numeric_limits<std::uint64_t>::max();

  void problem(std::uint64_t position, VerifyProblem p) {
    if (!first_ || position < first_position_) {
      first_ = std::move(p);
      first_position_ = position;
    }
  }
  void read_head();
  void check_record(const Record& rec, const Segment& seg, std::size_t line);
  bool check_checkpoint(const Record& rec, const Segment& seg, std::size_t line);
  // The line, after `line`, of the current segment that holds `seq`: tells
  // records swapped from records deleted.
  std::optional<std::size_t> find_later(std::uint64_t seq, std::size_t line) const {
    std::size_t n = line;
    for (std::size_t at = next_at_; at < segment_text_->size();) {
      const std::size_t nl = segment_text_->find('\n', at);
      if (nl == std::string::npos) break;
      ++n;
      crypto::Result<Record> r = parse_record(std::string_view(*segment_text_).substr(at, nl - at));
      if (r.ok() && r->seq == seq) return n;
      at = nl + 1;
    }
    return std::nullopt;
  }

  std::string dir_;
  const std::optional<crypto::Sm2PublicKey>& key_;
  std::string fingerprint_;
  VerifyReport report_;
  std::optional<VerifyProblem> first_;
  std::uint64_t first_position_ = kEnd;
  std::optional<HeadSeal> seal_;
  bool seal_reached_ = false;
  std::uint64_t position_ = 0;
  bool broken_ = false;  // after the first break in the chain only removal records are collected
  std::uint64_t expected_ = 0;  // 0: no record yet
  std::string prev_hash_;
  std::uint64_t last_checkpoint_ = 0;
  std::vector<Removal> removals_;
  std::vector<Gap> gaps_;
  const std::string* segment_text_ = nullptr;  // the segment being walked
  std::size_t next_at_ = 0;                    // where its next line starts
};

void Walk::read_head() {
  const std::string path = dir_ + "/" + std::string(kHeadFile);
  std::string error;
  std::optional<std::string> bytes = read_whole(path, error);
  if (!bytes) return;
  bool any_parsed = false;
  for (unsigned slot = 0; slot < 2; ++slot) {
    if (bytes->size() < (slot + 1) * kHeadSlotBytes) continue;
    const std::string_view raw = std::string_view(*bytes).substr(slot * kHeadSlotBytes, kHeadSlotBytes);
    if (raw.find_first_not_of('\0') == std::string_view::npos) continue;  // never written
    crypto::Result<HeadSeal> h = parse_head_slot(raw);
    if (!h.ok()) {
      report_.notes.push_back("head slot " + std::to_string(slot) +
                              " is unreadable (a write torn by a crash, or tampering): " + h.error().message);
      continue;
    }
    any_parsed = true;
    if (h->slot != slot) {
      problem(kEnd, {path, 0, h->seq,
                     "head slot " + std::to_string(slot) + " holds a copy of slot " + std::to_string(h->slot) +
                         " (seq " + std::to_string(h->seq) + "): the head seal was rolled back"});
      continue;
    }
    if (key_ && !crypto::sm2_verify(*key_, crypto::as_bytes(h->signed_text), h->sig)) {
      problem(kEnd, {path, 0, h->seq,
                     "head slot " + std::to_string(slot) + " (seq " + std::to_string(h->seq) +
                         ") is not signed by the key: a forged head seal"});
      continue;
    }
    if (!seal_ || h->seq > seal_->seq) seal_ = std::move(h).value();
  }
  (void)any_parsed;
  if (seal_) report_.sealed_seq = seal_->seq;
}

bool Walk::check_checkpoint(const Record& rec, const Segment& seg, std::size_t line) {
  ++report_.checkpoints;
  const std::optional<std::uint64_t> covers = decimal(rec.get("covers"));
  const std::string* fp = rec.get("key");
  const std::string* sig_hex = rec.get("sig");
  if (!covers || *covers + 1 != rec.seq || fp == nullptr || sig_hex == nullptr) {
    problem(position_, {seg.path, line, rec.seq, "checkpoint is malformed: covers, key and sig are required"});
    return false;
  }
  if (key_) {
    if (*fp != fingerprint_) {
      problem(position_, {seg.path, line, rec.seq, "checkpoint is signed by another key (fingerprint " + *fp + ")"});
      return false;
    }
    std::optional<crypto::Bytes> sig = crypto::from_hex(*sig_hex);
    if (!sig || !crypto::sm2_verify(*key_, crypto::as_bytes(checkpoint_message(rec.side, *covers, rec.prev)), *sig)) {
      problem(position_, {seg.path, line, rec.seq, "checkpoint signature does not verify: a forged checkpoint"});
      return false;
    }
  }
  last_checkpoint_ = rec.seq;
  return true;
}

void Walk::check_record(const Record& rec, const Segment& seg, std::size_t line) {
  auto hard = [&](std::string what) {
    problem(position_, {seg.path, line, rec.seq, std::move(what)});
    broken_ = true;
  };
  if (line == 1 && rec.seq != seg.first_seq) {
    return hard("the file name says the segment starts at seq " + std::to_string(seg.first_seq) +
                " but its first record is seq " + std::to_string(rec.seq));
  }
  if (expected_ == 0) {
    if (rec.seq != 1) {
      Gap g{1, rec.seq - 1, rec.prev, true, position_, {}};
      g.problem = {seg.path, line, rec.seq,
                   range(1, rec.seq - 1) + " are missing before the first remaining record: the oldest segment(s) "
                   "were deleted (no audit.segment_removed record covers them)"};
      gaps_.push_back(std::move(g));
    } else if (rec.prev != kGenesisHash) {
      return hard("the first record's prev is not the genesis hash");
    }
  } else if (rec.seq == expected_) {
    if (rec.prev != prev_hash_) {
      return hard("prev is not the hash of record " + std::to_string(rec.seq - 1) +
                  ": a record before it was inserted or replaced");
    }
  } else if (rec.seq > expected_) {
    if (line == 1) {
      Gap g{expected_, rec.seq - 1, rec.prev, false, position_, {}};
      g.problem = {seg.path, line, rec.seq,
                   range(expected_, rec.seq - 1) + " are missing before this segment: a segment (or the end of "
                   "the one before) was deleted, and no audit.segment_removed record covers them"};
      gaps_.push_back(std::move(g));
    } else if (std::optional<std::size_t> later = find_later(expected_, line)) {
      return hard("seq " + std::to_string(rec.seq) + " where " + std::to_string(expected_) +
                  " was expected: records reordered (seq " + std::to_string(expected_) + " is at line " +
                  std::to_string(*later) + ")");
    } else {
      return hard("seq " + std::to_string(rec.seq) + " where " + std::to_string(expected_) + " was expected: " +
                  range(expected_, rec.seq - 1) + " deleted");
    }
  } else {
    return hard("seq " + std::to_string(rec.seq) + " after seq " + std::to_string(expected_ - 1) +
                ": an inserted record, or records reordered");
  }
  ++report_.records;
  if (report_.first_seq == 0) {
    report_.first_seq = rec.seq;
    report_.first_ts = rec.ts;
  }
  report_.last_seq = rec.seq;
  report_.last_ts = rec.ts;
  expected_ = rec.seq + 1;
  prev_hash_ = rec.hash;
  if (seal_ && rec.seq == seal_->seq) {
    seal_reached_ = true;
    if (rec.hash != seal_->hash) {
      return hard("the head seal says seq " + std::to_string(rec.seq) + " has hash " + seal_->hash +
                  ": the records up to here were rewritten");
    }
  }
  if (rec.event == "audit.head_mismatch" || rec.event == "audit.recovered") {
    // The log's own account of what it found at a start: worth an auditor's eye.
    const std::string* detail = rec.get("detail");
    report_.notes.push_back("seq " + std::to_string(rec.seq) + ": " + rec.event +
                            (detail != nullptr ? ": " + *detail : std::string()));
  }
  if (rec.event == kCheckpointEvent && !check_checkpoint(rec, seg, line)) {
    broken_ = true;
    return;
  }
}

VerifyReport Walk::run() {
  report_.signatures_checked = key_.has_value();
  struct stat st;
  if (::stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    report_.readable = false;
    report_.problem = VerifyProblem{dir_, 0, 0, "not a readable directory"};
    return report_;
  }
  crypto::Result<std::vector<Segment>> segments = list_segments(dir_);
  if (!segments.ok()) {
    report_.readable = false;
    report_.problem = VerifyProblem{dir_, 0, 0, segments.error().message};
    return report_;
  }
  read_head();
  report_.segments = segments->size();
  std::string last_path = dir_;
  std::size_t last_lines = 0;
  for (std::size_t s = 0; s < segments->size(); ++s) {
    const Segment& seg = (*segments)[s];
    std::string error;
    std::optional<std::string> text = read_whole(seg.path, error);
    if (!text) {
      report_.readable = false;
      problem(position_, {seg.path, 0, 0, error});
      broken_ = true;
      continue;
    }
    if (text->empty()) {
      report_.notes.push_back(segment_name(seg.first_seq) + " is empty (created just before a crash)");
      continue;
    }
    last_path = seg.path;
    segment_text_ = &*text;
    std::size_t line = 0;
    for (std::size_t at = 0; at < text->size();) {
      const std::size_t nl = text->find('\n', at);
      const std::string_view bytes =
          std::string_view(*text).substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      at = nl == std::string::npos ? text->size() : nl + 1;
      next_at_ = at;
      ++line;
      ++position_;
      if (nl == std::string::npos && s + 1 == segments->size()) {
        report_.notes.push_back("the newest segment ends in an incomplete line (" + std::to_string(bytes.size()) +
                                " bytes, a crash mid-write): ferryd cuts it when it starts");
        break;
      }
      crypto::Result<Record> rec = parse_record(bytes);
      if (broken_) {
        if (rec.ok() && rec->event == kSegmentRemovedEvent) {
          // still wanted: it may account for a gap found before the break
        } else {
          continue;
        }
      } else if (!rec.ok()) {
        problem(position_, {seg.path, line, expected_, "not a valid record: " + rec.error().message});
        broken_ = true;
        continue;
      } else {
        check_record(*rec, seg, line);
      }
      if (rec.ok() && rec->event == kSegmentRemovedEvent) {
        const std::optional<std::uint64_t> first = decimal(rec->get("first_seq"));
        const std::optional<std::uint64_t> last = decimal(rec->get("last_seq"));
        const std::string* hash = rec->get("last_hash");
        const std::string* why = rec->get("why");
        if (first && last && *first <= *last && hash != nullptr && why != nullptr) {
          removals_.push_back({*first, *last, *hash, *why, rec->seq});
        }
      }
    }
    last_lines = line;
  }

  for (const Gap& g : gaps_) {
    std::string note;
    if (covered(g, removals_, note)) {
      report_.notes.push_back(note);
    } else {
      problem(g.position, g.problem);
    }
  }
  const std::string head_path = dir_ + "/" + std::string(kHeadFile);
  if (seal_) {
    if (seal_->seq > report_.last_seq && !broken_) {
      problem(kEnd, {last_path, last_lines + 1, report_.last_seq + 1,
                     "the log ends at seq " + std::to_string(report_.last_seq) + " but the head seal covers seq " +
                         std::to_string(seal_->seq) + ": " + range(report_.last_seq + 1, seal_->seq) +
                         " were removed (truncated)"});
    } else if (!seal_reached_ && seal_->seq < report_.first_seq) {
      report_.notes.push_back("the head seal (seq " + std::to_string(seal_->seq) +
                              ") is older than the first remaining record");
    }
    if (report_.last_seq > seal_->seq && !broken_) {
      report_.notes.push_back(std::to_string(report_.last_seq - seal_->seq) + " records after the last seal (seq " +
                              std::to_string(seal_->seq) + "): written after the last sync");
    }
  } else if (report_.records > 0) {
    problem(kEnd, {head_path, 0, 0,
                   key_ ? "no head seal signed by the key: truncation of the newest records cannot be ruled out"
                        : "no head seal: truncation of the newest records cannot be ruled out"});
  }
  if (report_.records > 0 && last_checkpoint_ < report_.last_seq && !broken_) {
    report_.notes.push_back(std::to_string(report_.last_seq - last_checkpoint_) +
                            " records after the last checkpoint" +
                            (last_checkpoint_ > 0 ? " (seq " + std::to_string(last_checkpoint_) + ")" : ""));
  }
  if (report_.records == 0 && !first_) {
    report_.notes.push_back("no records: a new log, or one whose segments and head were all deleted "
                            "(only a copy kept elsewhere tells which)");
  }
  if (!key_) {
    report_.notes.push_back("signatures were NOT checked (no key given): only the hash chain and the head seal's "
                            "position were");
  }
  report_.problem = first_;
  report_.ok = !first_.has_value();
  return report_;
}

}  // namespace

VerifyReport verify_log(const std::string& dir, const std::optional<crypto::Sm2PublicKey>& key) {
  return Walk(dir, key).run();
}

}  // namespace ferry::audit

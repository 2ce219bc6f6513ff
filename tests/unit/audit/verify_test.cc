// verify_log against each alteration an attacker without the key can make
// to an audit directory: each must be found, and the first bad record named
// (file, line, seq), since that is where an auditor starts looking.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/bytes.h"
#include "ferry/audit/verify.h"
#include "tests/unit/audit/log_fixture.h"

namespace ferry::audit::test {
namespace {

using ::testing::HasSubstr;
using std::chrono::seconds;

class VerifyTest : public LogTest {
 protected:
  // 43 events, a checkpoint every 10 records, a seal every 10 events, small
  // segments: 47 records over several files, 3 of them after the last checkpoint.
  void SetUp() override {
    LogTest::SetUp();
    LogOptions o = options();
    o.segment_size = 1500;
    auto log = open(o);
    ASSERT_TRUE(log);
    for (int i = 0; i < 43; ++i) {
      ASSERT_TRUE(log->append(event(i), kT0 + seconds(i)).ok());
      if (i % 10 == 9) {
        ASSERT_TRUE(log->sync().ok());
      }
    }
    ASSERT_TRUE(log->sync().ok());
    last_seq_ = log->last_seq();
    ASSERT_EQ(last_seq_, 47u);
    ASSERT_GE(segments().size(), 4u);
  }

  struct Where {
    std::string path;
    std::size_t line = 0;  // 1-based
  };
  Where where(std::uint64_t seq) const {
    for (const Segment& s : segments()) {
      const std::vector<std::string> ls = lines(s.path);
      for (std::size_t i = 0; i < ls.size(); ++i) {
        if (parse_record(ls[i]).value().seq == seq) return {s.path, i + 1};
      }
    }
    ADD_FAILURE() << "no seq " << seq;
    return {};
  }
  Record record(std::uint64_t seq) const {
    const Where w = where(seq);
    return parse_record(lines(w.path)[w.line - 1]).value();
  }

  // Cuts the log after `keep` (the newest segments go, the one holding it is
  // shortened): the chain up to `keep` stays intact.
  void truncate_after(std::uint64_t keep) {
    const Where w = where(keep);
    for (const Segment& s : segments()) {
      if (s.first_seq > keep) std::filesystem::remove(s.path);
    }
    std::vector<std::string> ls = lines(w.path);
    ls.resize(w.line);
    write_lines(w.path, ls);
  }

  // Replaces record `seq` with `changed` and re-chains every later record,
  // across segments, as an attacker without the key would.
  void replace_and_rechain(std::uint64_t seq, Record changed) {
    std::string prev;
    for (const Segment& s : segments()) {
      std::vector<std::string> ls = lines(s.path);
      for (std::string& l : ls) {
        Record r = parse_record(l).value();
        if (r.seq < seq) continue;
        if (r.seq == seq) r = changed;
        if (r.seq > seq) r.prev = prev;
        l = format_record(r);
        prev = r.hash;
      }
      write_lines(s.path, ls);
    }
  }

  VerifyReport verify() const { return verify_log(dir_, side_key().public_key()); }

  static void expect_problem(const VerifyReport& r, const Where& at, std::uint64_t seq, const std::string& what) {
    ASSERT_FALSE(r.ok);
    ASSERT_TRUE(r.problem);
    EXPECT_EQ(r.problem->file, at.path);
    EXPECT_EQ(r.problem->line, at.line);
    EXPECT_EQ(r.problem->seq, seq);
    EXPECT_THAT(r.problem->what, HasSubstr(what));
  }

  std::uint64_t last_seq_ = 0;
};

TEST_F(VerifyTest, AnUntouchedLogIsIntactAndDescribed) {
  const VerifyReport r = verify();
  ASSERT_TRUE(r.ok) << r.problem->what;
  EXPECT_TRUE(r.signatures_checked);
  EXPECT_EQ(r.records, 47u);
  EXPECT_EQ(r.checkpoints, 4u);
  EXPECT_EQ(r.segments, segments().size());
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 47u);
  EXPECT_EQ(r.first_ts, "2026-11-27T00:00:00.000Z");
  EXPECT_EQ(r.last_ts, "2026-11-27T00:00:42.000Z");
  EXPECT_EQ(r.sealed_seq, std::optional<std::uint64_t>(47));
}

TEST_F(VerifyTest, WithoutAKeyTheChainIsCheckedAndTheReportSaysSignaturesWereNot) {
  const VerifyReport r = verify_log(dir_, std::nullopt);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.signatures_checked);
  bool said = false;
  for (const std::string& n : r.notes) said = said || n.find("NOT checked") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST_F(VerifyTest, AModifiedFieldIsNamed) {
  const Where w = where(3);
  std::vector<std::string> ls = lines(w.path);
  const std::size_t at = ls[w.line - 1].find("\"object\":\"2\"");
  ASSERT_NE(at, std::string::npos);
  ls[w.line - 1].replace(at, 12, "\"object\":\"9\"");
  write_lines(w.path, ls);
  expect_problem(verify(), w, 3, "altered");
}

TEST_F(VerifyTest, ADeletedRecordIsNamed) {
  const Where w = where(4);
  std::vector<std::string> ls = lines(w.path);
  ls.erase(ls.begin() + static_cast<long>(w.line - 1));
  write_lines(w.path, ls);
  expect_problem(verify(), w, 5, "record 4 deleted");
}

TEST_F(VerifyTest, AnInsertedRecordIsFoundEvenWhenItChainsOn) {
  // A well-made forgery: seq 4, chained to record 3, its own hash right.
  Record forged = record(4);
  forged.fields = {{"channel", "docs"}, {"object", "forged"}};
  forged.prev = record(3).hash;
  const std::string forged_line = format_record(forged);
  const Where w = where(4);
  std::vector<std::string> ls = lines(w.path);
  ls.insert(ls.begin() + static_cast<long>(w.line - 1), forged_line);
  write_lines(w.path, ls);
  // The genuine record 4 now follows a 4: it is where the chain breaks.
  expect_problem(verify(), {w.path, w.line + 1}, 4, "inserted");
}

TEST_F(VerifyTest, SwappedRecordsAreNamed) {
  const Where w = where(5);
  ASSERT_EQ(where(6).path, w.path);
  std::vector<std::string> ls = lines(w.path);
  std::swap(ls[w.line - 1], ls[w.line]);
  write_lines(w.path, ls);
  expect_problem(verify(), w, 6, "records reordered (seq 5 is at line " + std::to_string(w.line + 1) + ")");
}

TEST_F(VerifyTest, ADeletedMiddleSegmentIsNamed) {
  const std::vector<Segment> segs = segments();
  std::filesystem::remove(segs[1].path);
  expect_problem(verify(), {segs[2].path, 1}, segs[2].first_seq, "a segment (or the end of the one before) was deleted");
}

TEST_F(VerifyTest, TheLastRecordOfASegmentDeletedIsNamedAtTheNextSegment) {
  const std::vector<Segment> segs = segments();
  std::vector<std::string> ls = lines(segs[1].path);
  ls.pop_back();
  write_lines(segs[1].path, ls);
  expect_problem(verify(), {segs[2].path, 1}, segs[2].first_seq, "record " + std::to_string(segs[2].first_seq - 1));
}

TEST_F(VerifyTest, DeletedOldestSegmentsAreNamed) {
  const std::vector<Segment> segs = segments();
  std::filesystem::remove(segs[0].path);
  expect_problem(verify(), {segs[1].path, 1}, segs[1].first_seq, "oldest segment");
  std::filesystem::remove(segs[1].path);
  expect_problem(verify(), {segs[2].path, 1}, segs[2].first_seq, "oldest segment");
}

TEST_F(VerifyTest, TruncationBeforeTheLastCheckpointIsCaughtByTheSeal) {
  ASSERT_EQ(record(44).event, "audit.checkpoint");
  truncate_after(40);
  const Where w = where(40);
  expect_problem(verify(), {w.path, w.line + 1}, 41, "truncated");
}

TEST_F(VerifyTest, TruncationAfterTheLastCheckpointIsCaughtByTheSeal) {
  truncate_after(45);  // 46 and 47 came after the last checkpoint (44)
  const Where w = where(45);
  const VerifyReport r = verify();
  expect_problem(r, {w.path, w.line + 1}, 46, "records 46..47 were removed");
  // Without the key, too: the seal's position needs no signature check.
  EXPECT_FALSE(verify_log(dir_, std::nullopt).ok);
}

TEST_F(VerifyTest, AForgedCheckpointSignatureIsNamed) {
  Record cp = record(11);
  ASSERT_EQ(cp.event, "audit.checkpoint");
  const std::string message = checkpoint_message("outer", 10, cp.prev);
  const std::string forged = crypto::to_hex(crypto::sm2_sign(other_key(), crypto::as_bytes(message)).value());
  for (auto& [k, v] : cp.fields) {
    if (k == "sig") v = forged;
  }
  replace_and_rechain(11, cp);
  const Where w = where(11);
  expect_problem(verify(), w, 11, "checkpoint signature does not verify");
  // Without the key the re-chained records still disagree with the seal.
  const VerifyReport unkeyed = verify_log(dir_, std::nullopt);
  ASSERT_FALSE(unkeyed.ok);
  EXPECT_EQ(unkeyed.problem->seq, 47u);
  EXPECT_THAT(unkeyed.problem->what, HasSubstr("head seal"));
}

TEST_F(VerifyTest, ACheckpointByAnotherKeyIsNamed) {
  const VerifyReport r = verify_log(dir_, other_key().public_key());
  const Where w = where(11);
  expect_problem(r, w, 11, "signed by another key");
}

TEST_F(VerifyTest, AHeadSealRolledBackToTheOlderSlotIsFound) {
  // Slots: the newest seal (47) and the one before (44). The attacker
  // truncates to 44 and copies the older slot over the newer one.
  std::string head = read(dir_ + "/head");
  ASSERT_EQ(head.size(), 2 * kHeadSlotBytes);
  auto a = parse_head_slot(std::string_view(head).substr(0, kHeadSlotBytes)).value();
  auto b = parse_head_slot(std::string_view(head).substr(kHeadSlotBytes)).value();
  const bool a_newer = a.seq > b.seq;
  const HeadSeal& older = a_newer ? b : a;
  ASSERT_EQ(older.seq, 44u);
  const std::string older_bytes = head.substr(older.slot * kHeadSlotBytes, kHeadSlotBytes);
  head.replace((older.slot ^ 1u) * kHeadSlotBytes, kHeadSlotBytes, older_bytes);
  write(dir_ + "/head", head);
  truncate_after(44);
  const VerifyReport r = verify();
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.problem->file, dir_ + "/head");
  EXPECT_EQ(r.problem->seq, 44u);
  EXPECT_THAT(r.problem->what, HasSubstr("rolled back"));
}

TEST_F(VerifyTest, AHeadSealNotSignedByTheKeyIsFound) {
  // Both slots re-signed with another key, in the exact form.
  std::string head;
  for (unsigned slot = 0; slot < 2; ++slot) {
    const std::string text = "ferry-audit-head/1 side=outer slot=" + std::to_string(slot) +
                             " seq=47 hash=" + record(47).hash + " ts=2026-11-27T00:00:50.000Z";
    std::string line = text + " sig=" +
                       crypto::to_hex(crypto::sm2_sign(other_key(), crypto::as_bytes(text)).value());
    line.resize(kHeadSlotBytes - 1, ' ');
    head += line + "\n";
  }
  write(dir_ + "/head", head);
  const VerifyReport r = verify();
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.problem->file, dir_ + "/head");
  EXPECT_THAT(r.problem->what, HasSubstr("not signed by the key"));
  EXPECT_TRUE(verify_log(dir_, std::nullopt).ok) << "without a key only the seal's position is checked";
}

TEST_F(VerifyTest, AMissingHeadIsAProblemSinceTruncationCannotBeRuledOut) {
  std::filesystem::remove(dir_ + "/head");
  const VerifyReport r = verify();
  ASSERT_FALSE(r.ok);
  EXPECT_THAT(r.problem->what, HasSubstr("no head seal"));
}

TEST_F(VerifyTest, ATornSealSlotFallsBackToTheOtherAndIsNoted) {
  std::string head = read(dir_ + "/head");
  auto a = parse_head_slot(std::string_view(head).substr(0, kHeadSlotBytes)).value();
  auto b = parse_head_slot(std::string_view(head).substr(kHeadSlotBytes)).value();
  const unsigned newer = a.seq > b.seq ? 0 : 1;
  head.replace(newer * kHeadSlotBytes + 100, 50, std::string(50, 'x'));
  write(dir_ + "/head", head);
  const VerifyReport r = verify();
  ASSERT_TRUE(r.ok) << r.problem->what;
  EXPECT_EQ(r.sealed_seq, std::optional<std::uint64_t>(44));
  EXPECT_FALSE(r.notes.empty());
}

TEST_F(VerifyTest, ARenamedSegmentIsNamed) {
  const std::vector<Segment> segs = segments();
  std::filesystem::rename(segs[1].path, dir_ + "/" + segment_name(segs[1].first_seq + 1));
  const VerifyReport r = verify();
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.problem->line, 1u);
  EXPECT_THAT(r.problem->what, HasSubstr("file name says"));
}

TEST_F(VerifyTest, AnUnreadableDirectoryIsNotIntact) {
  const VerifyReport r = verify_log(dir_ + "/nothing-here", std::nullopt);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.readable);
}

}  // namespace
}  // namespace ferry::audit::test

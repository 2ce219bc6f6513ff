// AuditLog as ferryd uses it: records chained and checkpointed, segments
// rotated, the chain continued across restarts and crashes, storage levels,
// retention and overwrite_oldest (CC FAU_STG.3/4).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "crypto/bytes.h"
#include "ferry/audit/verify.h"
#include "tests/unit/audit/log_fixture.h"

namespace ferry::audit::test {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

std::vector<Record> all_records(const std::vector<Segment>& segs) {
  std::vector<Record> out;
  for (const Segment& s : segs) {
    std::ifstream in(s.path, std::ios::binary);
    for (std::string l; std::getline(in, l);) out.push_back(parse_record(l).value());
  }
  return out;
}

std::vector<Record> with_event(const std::vector<Record>& all, std::string_view event) {
  std::vector<Record> out;
  for (const Record& r : all) {
    if (r.event == event) out.push_back(r);
  }
  return out;
}

TEST_F(LogTest, AppendsChainedRecordsWithTheEventsFieldsInOrderInPrivateFiles) {
  auto log = open(options());
  ASSERT_TRUE(log);
  Event e{"object.delivered", Severity::notice, {}};
  e.with("object", "00ff").with("name", "报告\n1.pdf");
  ASSERT_TRUE(log->append(e, kT0).ok());
  append(*log, 2, kT0 + seconds(1));
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(log->last_seq(), 3u);
  EXPECT_EQ(log->sealed_seq(), 3u);

  const std::vector<Segment> segs = segments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].path, dir_ + "/audit-00000000000000000001.jsonl");
  const std::vector<Record> recs = all_records(segs);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].seq, 1u);
  EXPECT_EQ(recs[0].prev, kGenesisHash);
  EXPECT_EQ(recs[0].ts, "2026-11-27T00:00:00.000Z");
  EXPECT_EQ(recs[0].side, "outer");
  EXPECT_EQ(recs[0].severity, "notice");
  EXPECT_EQ(recs[0].event, "object.delivered");
  ASSERT_EQ(recs[0].fields.size(), 2u);
  EXPECT_EQ(recs[0].fields[0], (std::pair<std::string, std::string>{"object", "00ff"}));
  EXPECT_EQ(recs[0].fields[1], (std::pair<std::string, std::string>{"name", "报告\n1.pdf"}));
  EXPECT_EQ(recs[1].prev, recs[0].hash);
  EXPECT_EQ(recs[2].prev, recs[1].hash);
  EXPECT_EQ(log->last_hash(), recs[2].hash);

  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(segs[0].path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/head").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(verify_log(dir_, side_key().public_key()).ok);
}

TEST_F(LogTest, AnOverlongRecordIsCutNotLost) {
  auto log = open(options());
  ASSERT_TRUE(log);
  Event e{"object.refused", Severity::warning, {}};
  e.with("name", std::string(100'000, '\x01'));
  ASSERT_TRUE(log->append(e, kT0).ok());
  const std::vector<Record> recs = all_records(segments());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_NE(recs[0].get("name")->find("bytes cut"), std::string::npos);
}

TEST_F(LogTest, ChecksEveryNRecordsSignedOverTheDocumentedMessage) {
  auto log = open(options());  // checkpoint_records = 10
  ASSERT_TRUE(log);
  append(*log, 25);
  const std::vector<Record> recs = all_records(segments());
  ASSERT_EQ(recs.size(), 27u);
  const std::vector<Record> cps = with_event(recs, "audit.checkpoint");
  ASSERT_EQ(cps.size(), 2u);
  EXPECT_EQ(cps[0].seq, 11u);
  EXPECT_EQ(cps[1].seq, 22u);
  EXPECT_EQ(*cps[0].get("covers"), "10");
  EXPECT_EQ(*cps[0].get("key"), crypto::to_hex(crypto::Sm3::digest(side_key().public_key().point())));
  const std::string message = "ferry-audit-checkpoint/1 side=outer seq=10 hash=" + recs[9].hash;
  EXPECT_EQ(checkpoint_message("outer", 10, recs[9].hash), message);
  EXPECT_TRUE(crypto::sm2_verify(side_key().public_key(), crypto::as_bytes(message),
                                 crypto::from_hex(*cps[0].get("sig")).value()));
  EXPECT_EQ(log->records_appended(), 27u);

  // checkpoint() forces one, unless the newest record is one already.
  ASSERT_TRUE(log->checkpoint(kT0 + seconds(30)).ok());
  EXPECT_EQ(log->last_seq(), 28u);
  ASSERT_TRUE(log->checkpoint(kT0 + seconds(31)).ok());
  EXPECT_EQ(log->last_seq(), 28u);
  EXPECT_EQ(log->last_checkpoint(), kT0 + seconds(30));
}

TEST_F(LogTest, ChecksOnTheFirstAppendAfterTheInterval) {
  LogOptions o = options();
  o.checkpoint_records = 1000;
  o.checkpoint_interval = seconds(60);
  auto log = open(o);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->append(event(1), kT0).ok());
  ASSERT_TRUE(log->append(event(2), kT0 + seconds(30)).ok());
  EXPECT_EQ(log->last_seq(), 2u);
  ASSERT_TRUE(log->append(event(3), kT0 + seconds(61)).ok());
  EXPECT_EQ(log->last_seq(), 4u);
  EXPECT_EQ(all_records(segments()).back().event, "audit.checkpoint");
  EXPECT_EQ(log->last_checkpoint(), kT0 + seconds(61));
}

TEST_F(LogTest, TheCheckpointIntervalRunsAcrossARestart) {
  {
    auto log = open(options());  // a checkpoint every 10 records or every hour
    ASSERT_TRUE(log);
    append(*log, 10);
    EXPECT_EQ(log->last_seq(), 11u);
  }
  auto log = open(options());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->last_checkpoint(), kT0 + seconds(9)) << "read back from the newest checkpoint";
  ASSERT_TRUE(log->append(event(1), kT0 + hours(2)).ok());
  EXPECT_EQ(log->last_seq(), 13u) << "two hours since the last checkpoint: one is due at once";
}

TEST_F(LogTest, RotatesBySizeAndNamesEachSegmentByItsFirstSeq) {
  LogOptions o = options();
  o.segment_size = 1000;
  auto log = open(o);
  ASSERT_TRUE(log);
  append(*log, 30);
  ASSERT_TRUE(log->sync().ok());
  const std::vector<Segment> segs = segments();
  ASSERT_GE(segs.size(), 3u);
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const std::vector<std::string> ls = lines(segs[i].path);
    ASSERT_FALSE(ls.empty());
    EXPECT_EQ(parse_record(ls[0]).value().seq, segs[i].first_seq);
    if (i + 1 < segs.size()) {
      EXPECT_GE(segs[i].size, 1000u);
      EXPECT_LT(segs[i].size, 1000u + 600u) << "rotated soon after passing the size";
    }
  }
  const VerifyReport r = verify_log(dir_, side_key().public_key());
  EXPECT_TRUE(r.ok) << r.problem->what;
  EXPECT_EQ(r.segments, segs.size());
  EXPECT_EQ(r.records, log->last_seq());
}

TEST_F(LogTest, TheChainContinuesAcrossARestart) {
  {
    auto log = open(options());
    ASSERT_TRUE(log);
    append(*log, 5);
  }  // closed without an explicit sync: the destructor syncs
  auto log = open(options());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->last_seq(), 5u);
  EXPECT_EQ(log->sealed_seq(), 5u);
  EXPECT_EQ(log->records_appended(), 0u) << "a clean restart records nothing of its own";
  append(*log, 5, kT0 + hours(1));
  ASSERT_TRUE(log->sync().ok());
  const std::vector<Record> recs = all_records(segments());
  ASSERT_EQ(recs.size(), 10u);
  EXPECT_EQ(recs[5].seq, 6u);
  EXPECT_EQ(recs[5].prev, recs[4].hash);
  EXPECT_TRUE(verify_log(dir_, side_key().public_key()).ok);
}

TEST_F(LogTest, ATornLastLineIsCutAndTheCutRecorded) {
  {
    auto log = open(options());
    ASSERT_TRUE(log);
    append(*log, 5);
  }
  const std::string seg = segments()[0].path;
  const std::string torn = "{\"seq\":6,\"ts\":\"2026-11-27T00:00:";
  std::ofstream(seg, std::ios::binary | std::ios::app) << torn;
  EXPECT_FALSE(verify_log(dir_, side_key().public_key()).notes.empty());

  auto log = open(options());
  ASSERT_TRUE(log);
  const std::vector<Record> recs = all_records(segments());
  ASSERT_EQ(recs.size(), 6u);
  EXPECT_EQ(recs[5].event, "audit.recovered");
  EXPECT_EQ(recs[5].severity, "warning");
  EXPECT_EQ(*recs[5].get("bytes"), std::to_string(torn.size()));
  EXPECT_EQ(recs[5].prev, recs[4].hash);
  EXPECT_EQ(log->sealed_seq(), 6u) << "what open records is made durable at once";
  EXPECT_TRUE(verify_log(dir_, side_key().public_key()).ok);
}

TEST_F(LogTest, RecordsAHeadMismatchButOpensAllTheSame) {
  {
    auto log = open(options());
    ASSERT_TRUE(log);
    append(*log, 8);
  }
  const std::string seg = segments()[0].path;
  std::vector<std::string> ls = lines(seg);
  ls.resize(6);  // the newest records, sealed, are gone
  write_lines(seg, ls);

  auto log = open(options());
  ASSERT_TRUE(log) << "refusing to start would let the truncation stop the boundary";
  const std::vector<Record> recs = all_records(segments());
  ASSERT_EQ(recs.size(), 7u);
  EXPECT_EQ(recs[6].event, "audit.head_mismatch");
  EXPECT_EQ(recs[6].severity, "error");
  EXPECT_EQ(*recs[6].get("sealed_seq"), "8");
  ASSERT_TRUE(log->append(event(9), kT0 + hours(1)).ok());
}

TEST_F(LogTest, SyncSealsInAlternateSlotsAndIsCheapWhenNothingIsNew) {
  auto log = open(options());
  ASSERT_TRUE(log);
  append(*log, 2);
  ASSERT_TRUE(log->sync().ok());
  const std::string first = read(dir_ + "/head");
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(read(dir_ + "/head"), first) << "no new seal without new records";
  append(*log, 1, kT0 + seconds(5));
  ASSERT_TRUE(log->sync().ok());
  const std::string head = read(dir_ + "/head");
  ASSERT_EQ(head.size(), 2 * kHeadSlotBytes);
  auto a = parse_head_slot(std::string_view(head).substr(0, kHeadSlotBytes));
  auto b = parse_head_slot(std::string_view(head).substr(kHeadSlotBytes));
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(a->seq, 2u);
  EXPECT_EQ(b->seq, 3u);
  EXPECT_EQ(b->hash, log->last_hash());
  EXPECT_TRUE(crypto::sm2_verify(side_key().public_key(), crypto::as_bytes(b->signed_text), b->sig));
  EXPECT_EQ(b->signed_text.substr(0, 45), "ferry-audit-head/1 side=outer slot=1 seq=3 ha");
}

TEST_F(LogTest, StorageLevelsFollowMaxSizeAndBlockKeepsWriting) {
  LogOptions o = options();
  o.max_size = 8000;
  o.warn_at = 0.5;
  auto log = open(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->storage().level, Storage::ok);
  while (log->storage().fill < 0.6) append(*log, 1);
  EXPECT_EQ(log->storage().level, Storage::warning);
  EXPECT_EQ(log->storage().budget, std::optional<std::uint64_t>(8000));
  auto m = log->maintain(kT0 + hours(1), 0);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->storage.level, Storage::warning);
  auto again = log->maintain(kT0 + hours(1), 0);
  ASSERT_TRUE(again.ok());
  while (log->storage().fill < 1.0) append(*log, 1);
  m = log->maintain(kT0 + hours(1), 0);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->storage.level, Storage::full);
  EXPECT_TRUE(m->removed.empty());
  EXPECT_FALSE(m->stuck_full) << "block mode does not remove anything";
  // Block: the log keeps writing past its budget.
  append(*log, 5, kT0 + hours(2));
  EXPECT_GT(log->storage().bytes, 8000u);

  const std::vector<Record> recs = all_records(segments());
  EXPECT_EQ(with_event(recs, "audit.storage_warning").size(), 1u) << "recorded on change only";
  const std::vector<Record> full = with_event(recs, "audit.storage_full");
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full[0].severity, "error");
  EXPECT_NE(full[0].get("detail")->find("on_full=block"), std::string::npos);
  EXPECT_EQ(log->storage().bytes, [&] {
    std::uint64_t n = 0;
    for (const Segment& s : segments()) n += s.size;
    return n;
  }()) << "the running count matches the directory";
}

TEST_F(LogTest, StorageWithoutMaxSizeComesFromTheFileSystem) {
  LogOptions o = options();
  o.min_free = 0;
  auto log = open(o);
  ASSERT_TRUE(log);
  const Storage s = log->storage();
  EXPECT_FALSE(s.budget);
  EXPECT_GT(s.fill, 0.0);
  EXPECT_LE(s.fill, 1.0);
  o.min_free = std::uint64_t{1} << 62;  // a reserve no disk has
  o.dir = dir_ + "2";
  auto reserved = open(o);
  ASSERT_TRUE(reserved);
  EXPECT_EQ(reserved->storage().level, Storage::full);
}

TEST_F(LogTest, RetentionRemovesWholeOldSegmentsNeverTheCurrentAndRecordsEachRemoval) {
  LogOptions o = options();
  o.segment_size = 1000;
  o.retention = std::chrono::days(1);
  auto log = open(o);
  ASSERT_TRUE(log);
  append(*log, 30);
  ASSERT_GE(segments().size(), 3u);
  const std::uint64_t old_last = log->last_seq();
  append(*log, 3, kT0 + hours(47));
  // The segments whose newest record is a day old at hour 48.
  std::size_t expired = 0;
  for (const Segment& s : segments()) {
    const std::vector<std::string> ls = lines(s.path);
    if (parse_timestamp(parse_record(ls.back()).value().ts) < parse_timestamp("2026-11-28T00:00:00.000Z")) ++expired;
  }
  ASSERT_GE(expired, 3u);
  ASSERT_LT(expired, segments().size());

  auto m = log->maintain(kT0 + hours(48), 0);
  ASSERT_TRUE(m.ok()) << m.error().message;
  // Every one of them goes; the one holding the records of hour 47 stays.
  ASSERT_EQ(m->removed.size(), expired);
  EXPECT_EQ(m->removed[0].first_seq, 1u);
  EXPECT_EQ(m->removed[0].why, "retention");
  const std::vector<Segment> left = segments();
  EXPECT_GT(left.front().first_seq, 1u);
  EXPECT_LE(left.front().first_seq, old_last + 1);
  const std::vector<Record> removed = with_event(all_records(left), "audit.segment_removed");
  ASSERT_EQ(removed.size(), m->removed.size());
  EXPECT_EQ(*removed[0].get("file"), "audit-00000000000000000001.jsonl");
  EXPECT_EQ(*removed[0].get("first_seq"), "1");
  EXPECT_EQ(*removed[0].get("why"), "retention");
  EXPECT_EQ(removed[0].get("last_hash")->size(), 64u);

  // Far in the future: the current segment is never removed.
  auto later = log->maintain(kT0 + hours(24 * 400), 0);
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(segments().empty());
  const VerifyReport r = verify_log(dir_, side_key().public_key());
  ASSERT_TRUE(r.ok) << r.problem->what;
  bool noted = false;
  for (const std::string& n : r.notes) noted = noted || n.find("removed by retention") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST_F(LogTest, ADeletionAfterARetentionRemovalIsStillFound) {
  LogOptions o = options();
  o.segment_size = 1000;
  o.retention = std::chrono::days(1);
  auto log = open(o);
  ASSERT_TRUE(log);
  append(*log, 12);
  append(*log, 16, kT0 + hours(30));
  auto m = log->maintain(kT0 + hours(30), 0);
  ASSERT_TRUE(m.ok());
  ASSERT_FALSE(m->removed.empty());
  ASSERT_TRUE(log->sync().ok());
  ASSERT_TRUE(verify_log(dir_, side_key().public_key()).ok);
  // The attacker removes the oldest segment the log kept.
  const std::vector<Segment> segs = segments();
  ASSERT_GE(segs.size(), 3u);
  std::filesystem::remove(segs[0].path);
  const VerifyReport r = verify_log(dir_, side_key().public_key());
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.problem->file, segs[1].path);
  EXPECT_EQ(r.problem->line, 1u);
  EXPECT_NE(r.problem->what.find("oldest segment"), std::string::npos) << r.problem->what;
}

TEST_F(LogTest, OverwriteOldestRemovesOnlyExportedSegmentsAndOtherwiseStaysFull) {
  LogOptions o = options();
  o.segment_size = 1000;
  o.max_size = 5000;
  o.warn_at = 0.6;
  o.on_full = OnFull::overwrite_oldest;
  auto log = open(o);
  ASSERT_TRUE(log);
  while (log->storage().fill < 1.1) append(*log, 1);

  // Nothing exported, nothing past retention: nothing may go.
  auto m = log->maintain(kT0 + hours(1), 0);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(m->removed.empty());
  EXPECT_TRUE(m->stuck_full);
  EXPECT_EQ(m->storage.level, Storage::full);
  const std::vector<Record> full = with_event(all_records(segments()), "audit.storage_full");
  ASSERT_EQ(full.size(), 1u);
  EXPECT_NE(full[0].get("detail")->find("overwrite_oldest"), std::string::npos);

  // The first two segments exported: only they may go, oldest first.
  const std::vector<Segment> before = segments();
  ASSERT_GE(before.size(), 4u);
  const std::uint64_t exported = before[2].first_seq - 1;
  m = log->maintain(kT0 + hours(1), exported);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_FALSE(m->removed.empty());
  EXPECT_LE(m->removed.size(), 2u);
  for (const RemovedSegment& r : m->removed) {
    EXPECT_LE(r.last_seq, exported);
    EXPECT_EQ(r.why, "overwrite_oldest");
  }
  EXPECT_EQ(segments().front().first_seq, before[m->removed.size()].first_seq);
  const VerifyReport r = verify_log(dir_, side_key().public_key());
  EXPECT_TRUE(r.ok) << r.problem->what;
}

TEST_F(LogTest, OverwriteOldestTakesSegmentsPastRetentionFirst) {
  LogOptions o = options();
  o.segment_size = 1000;
  o.max_size = 4000;
  o.retention = std::chrono::days(1);
  o.on_full = OnFull::overwrite_oldest;
  auto log = open(o);
  ASSERT_TRUE(log);
  append(*log, 20);
  const std::uint64_t old_last = log->last_seq();
  append(*log, 10, kT0 + hours(30));
  auto m = log->maintain(kT0 + hours(30), 0);
  ASSERT_TRUE(m.ok());
  ASSERT_FALSE(m->removed.empty());
  for (const RemovedSegment& r : m->removed) {
    EXPECT_LE(r.last_seq, old_last);
    EXPECT_EQ(r.why, "retention");
  }
  EXPECT_TRUE(verify_log(dir_, side_key().public_key()).ok);
}

TEST_F(LogTest, OpenRefusesASideThatWouldBreakTheSealLine) {
  LogOptions o = options();
  o.side = "out er";
  EXPECT_FALSE(AuditLog::open(o, side_key()).ok());
  o.side = "";
  EXPECT_FALSE(AuditLog::open(o, side_key()).ok());
}

}  // namespace
}  // namespace ferry::audit::test

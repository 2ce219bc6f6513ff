// The audit index: built when missing, kept up to date incrementally,
// rebuilt whenever it no longer describes the segments, and every filter.
#include "ferry/auditdb/index.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ferry/auditdb/when.h"
#include "tests/unit/auditdb/trail_writer.h"

namespace ferry::auditdb {
namespace {

using test::TempDir;
using test::TrailWriter;

std::vector<std::uint64_t> seqs(const std::vector<Row>& rows) {
  std::vector<std::uint64_t> out;
  for (const Row& r : rows) out.push_back(r.seq);
  return out;
}

std::string index_path(const TempDir& dir) { return dir.path() + "/" + kIndexFileName; }

AuditIndex open_index(const TempDir& dir) {
  crypto::Result<AuditIndex> index = AuditIndex::open(dir.path());
  EXPECT_TRUE(index.ok()) << (index.ok() ? "" : index.error().message);
  return std::move(index).value();
}

UpdateReport update(AuditIndex& index) {
  crypto::Result<UpdateReport> r = index.update();
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : UpdateReport{};
}

std::uint64_t count(AuditIndex& index) {
  crypto::Result<std::uint64_t> n = index.count();
  EXPECT_TRUE(n.ok());
  return n.ok() ? *n : 0;
}

void add_objects(TrailWriter& w, int n, const std::string& channel = "docs") {
  for (int i = 0; i < n; ++i) {
    w.add("2026-11-27T02:03:0" + std::to_string(i % 10) + ".000Z", "object.accepted",
          {{"channel", channel}, {"object", std::string(31, '0') + std::to_string(i % 10)}, {"name", "f.pdf"},
           {"size", "100"}, {"verdict", "accepted"}});
  }
}

TEST(AuditIndex, BuiltWhenMissing) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 5);
  AuditIndex index = open_index(dir);
  const UpdateReport r = update(index);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_EQ(r.rebuild_reason, "new index");
  EXPECT_EQ(r.records_added, 5u);
  EXPECT_EQ(r.bad_lines, 0u);
  EXPECT_TRUE(std::filesystem::exists(index_path(dir)));
  EXPECT_EQ(count(index), 5u);
  struct stat st;
  ASSERT_EQ(::stat(index_path(dir).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "file names in the index are not for other users";
}

TEST(AuditIndex, OpenFailsForMissingDirectory) {
  TempDir dir;
  crypto::Result<AuditIndex> index = AuditIndex::open(dir.path() + "/nope");
  ASSERT_FALSE(index.ok());
  EXPECT_NE(index.error().message.find("nope"), std::string::npos);
}

TEST(AuditIndex, IncrementalUpdateTakesOnlyAppendedRecords) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 5);
  AuditIndex index = open_index(dir);
  update(index);

  add_objects(w, 3);
  w.rotate();
  add_objects(w, 2, "mail");
  UpdateReport r = update(index);
  EXPECT_FALSE(r.rebuilt) << r.rebuild_reason;
  EXPECT_EQ(r.records_added, 5u);
  EXPECT_EQ(r.segments, 2u);
  EXPECT_EQ(count(index), 10u);

  r = update(index);
  EXPECT_FALSE(r.rebuilt);
  EXPECT_EQ(r.records_added, 0u);
  EXPECT_EQ(r.bytes_read, 0u) << "an unchanged trail is not read again";

  Filter mail;
  mail.channel = "mail";
  crypto::Result<std::vector<Row>> rows = index.query(mail);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(seqs(*rows), (std::vector<std::uint64_t>{9, 10}));
}

TEST(AuditIndex, TornLastLineWaitsUntilComplete) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 2);
  AuditIndex index = open_index(dir);
  update(index);

  // The log is writing record 3 as we read: only half of it is there.
  TempDir scratch;
  TrailWriter copy(scratch.path());
  add_objects(copy, 2);
  const std::string third = copy.add("2026-11-27T03:00:00.000Z", "link.down", {{"channel", "docs"}});
  const std::size_t half = third.size() / 2;
  std::ofstream(w.segment(), std::ios::app | std::ios::binary) << third.substr(0, half);
  UpdateReport r = update(index);
  EXPECT_FALSE(r.rebuilt) << r.rebuild_reason;
  EXPECT_EQ(r.records_added, 0u);
  EXPECT_EQ(r.bad_lines, 0u);

  std::ofstream(w.segment(), std::ios::app | std::ios::binary) << third.substr(half) << '\n';
  r = update(index);
  EXPECT_FALSE(r.rebuilt) << r.rebuild_reason;
  EXPECT_EQ(r.records_added, 1u);
  EXPECT_EQ(r.bad_lines, 0u);
  EXPECT_EQ(count(index), 3u);
}

TEST(AuditIndex, RebuiltAfterIndexFileDeleted) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 7);
  {
    AuditIndex index = open_index(dir);
    update(index);
  }
  ASSERT_EQ(::unlink(index_path(dir).c_str()), 0);
  AuditIndex index = open_index(dir);
  const UpdateReport r = update(index);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_EQ(r.records_added, 7u);
  EXPECT_EQ(count(index), 7u);
}

TEST(AuditIndex, UnreadableIndexFileIsReplaced) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 4);
  std::ofstream(index_path(dir), std::ios::binary) << std::string(8192, 'x');
  AuditIndex index = open_index(dir);
  const UpdateReport r = update(index);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_EQ(count(index), 4u);
}

TEST(AuditIndex, RebuiltAfterSegmentShrinks) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 6);
  AuditIndex index = open_index(dir);
  update(index);
  // Drop the last record, as a truncation would.
  const auto size = std::filesystem::file_size(w.segment());
  std::ifstream in(w.segment(), std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  const std::size_t cut = all.rfind('\n', all.size() - 2) + 1;
  std::filesystem::resize_file(w.segment(), cut);
  ASSERT_LT(std::filesystem::file_size(w.segment()), size);

  const UpdateReport r = update(index);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_NE(r.rebuild_reason.find("shrank"), std::string::npos) << r.rebuild_reason;
  EXPECT_EQ(count(index), 5u);
  Filter last;
  last.since_ms = 0;
  crypto::Result<std::vector<Row>> rows = index.query(last);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->back().seq, 5u) << "the dropped record is gone from the index";
}

TEST(AuditIndex, RebuiltAfterSegmentVanishes) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 3);
  const std::string first = w.segment();
  w.rotate();
  add_objects(w, 3);
  AuditIndex index = open_index(dir);
  update(index);
  ASSERT_EQ(::unlink(first.c_str()), 0);
  const UpdateReport r = update(index);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_NE(r.rebuild_reason.find("vanished"), std::string::npos) << r.rebuild_reason;
  EXPECT_EQ(count(index), 3u);
}

TEST(AuditIndex, RebuiltAfterIndexedBytesRewritten) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 3);
  AuditIndex index = open_index(dir);
  update(index);
  // Same length, one byte of the last record changed: no longer a record.
  std::fstream f(w.segment(), std::ios::in | std::ios::out | std::ios::binary);
  const auto size = static_cast<std::streamoff>(std::filesystem::file_size(w.segment()));
  f.seekp(size - 5);
  f.put('x');  // inside the hash: hex digits are never 'x'
  f.close();
  const UpdateReport r = update(index);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_NE(r.rebuild_reason.find("rewritten"), std::string::npos) << r.rebuild_reason;
  EXPECT_EQ(r.bad_lines, 1u);
  EXPECT_EQ(count(index), 2u);
}

TEST(AuditIndex, RebuiltForAnotherSchemaVersion) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 3);
  {
    AuditIndex index = open_index(dir);
    update(index);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(index_path(dir).c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  AuditIndex index = open_index(dir);
  const UpdateReport r = update(index);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_NE(r.rebuild_reason.find("schema version 99"), std::string::npos) << r.rebuild_reason;
  EXPECT_EQ(count(index), 3u);
}

TEST(AuditIndex, LinesThatAreNotRecordsAreSkippedAndCounted) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 2);
  std::ofstream(w.segment(), std::ios::app | std::ios::binary) << "not a record\n{\"seq\":3}\n\n";
  add_objects(w, 2);
  AuditIndex index = open_index(dir);
  const UpdateReport r = update(index);
  EXPECT_EQ(r.bad_lines, 3u);
  EXPECT_EQ(r.records_added, 4u);
}

TEST(AuditIndex, OverlongLineIsSkippedWithoutSwallowingTheNext) {
  TempDir dir;
  TrailWriter w(dir.path());
  add_objects(w, 1);
  std::ofstream(w.segment(), std::ios::app | std::ios::binary) << std::string(9 << 20, 'a') << '\n';
  add_objects(w, 1);
  AuditIndex index = open_index(dir);
  const UpdateReport r = update(index);
  EXPECT_EQ(r.bad_lines, 1u);
  EXPECT_EQ(r.records_added, 2u);
  EXPECT_FALSE(update(index).rebuilt) << "the skipped line does not make the next update rebuild";
}

// A small trail with something for every filter.
class AuditIndexFilter : public ::testing::Test {
 protected:
  void SetUp() override {
    TrailWriter w(dir_.path());
    const std::string a(32, 'a'), b(32, 'b');
    w.add("2026-11-26T23:59:59.999Z", "object.ingested", {{"channel", "docs"}, {"object", a}, {"name", "plan.pdf"}});   // 1
    w.add("2026-11-27T00:00:00.000Z", "object.accepted",
          {{"channel", "docs"}, {"object", a}, {"name", "plan.pdf"}, {"size", "2048"}, {"verdict", "accepted"}});  // 2
    w.add("2026-11-27T10:00:00.000Z", "object.refused",
          {{"channel", "mail"}, {"object", b}, {"name", "Invoice <x>.docm"}, {"verdict", "rejected"},
           {"reasons", "macro,keyword"}});                                                              // 3
    w.add("2026-11-27T10:30:00.000Z", "link.down", {{"channel", "mail"}, {"detail", "peer reset"}});  // 4
    w.add("2026-11-27T23:59:59.999Z", "objectives.weird", {{"channel", "docs"}});                     // 5
    w.add("2026-11-28T00:00:00.000Z", "object.sent",
          {{"channel", "docs"}, {"object", a}, {"name", "plan.pdf"}, {"size", "not a number"}});  // 6
    index_ = open_index(dir_);
    update(*index_);
  }

  std::vector<std::uint64_t> run(const Filter& f) {
    crypto::Result<std::vector<Row>> rows = index_->query(f);
    EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().message);
    return rows.ok() ? seqs(*rows) : std::vector<std::uint64_t>{};
  }

  TempDir dir_;
  std::optional<AuditIndex> index_;
};

TEST_F(AuditIndexFilter, NoFilterGivesEverythingInSeqOrder) {
  EXPECT_EQ(run({}), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(AuditIndexFilter, SinceIsInclusiveUntilExclusive) {
  Filter f;
  f.since_ms = *parse_day("2026-11-27");
  f.until_ms = *parse_day("2026-11-28");
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{2, 3, 4, 5}));
  f.since_ms = *parse_when("2026-11-27T10:00");
  f.until_ms = *parse_when("2026-11-27T10:30");
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{3}));
}

TEST_F(AuditIndexFilter, Channel) {
  Filter f;
  f.channel = "mail";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{3, 4}));
  f.channel = "mai";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{})) << "channel is exact";
}

TEST_F(AuditIndexFilter, EventExactAndPrefix) {
  Filter f;
  f.event = "object.accepted";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{2}));
  f.event = "object.";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{1, 2, 3, 6})) << "objectives.* is not object.*";
  f.event = "object";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{})) << "without the dot it is an exact name";
  f.event = "link.";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{4}));
}

TEST_F(AuditIndexFilter, VerdictObjectName) {
  Filter f;
  f.verdict = "rejected";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{3}));
  f = {};
  f.object = std::string(32, 'a');
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{1, 2, 6}));
  f = {};
  f.name = "<x>";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{3})) << "name is a plain substring, no wildcards";
  f.name = "%";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{}));
  f.name = "plan";
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{1, 2, 6}));
}

TEST_F(AuditIndexFilter, LimitKeepsTheLowestSeqs) {
  Filter f;
  f.limit = 2;
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{1, 2}));
  f.channel = "docs";
  f.since_ms = *parse_day("2026-11-27");
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{2, 5}));
}

TEST_F(AuditIndexFilter, FiltersCombine) {
  Filter f;
  f.channel = "docs";
  f.event = "object.";
  f.since_ms = *parse_day("2026-11-27");
  EXPECT_EQ(run(f), (std::vector<std::uint64_t>{2, 6}));
}

TEST_F(AuditIndexFilter, RowsCarryTheRecordAsWritten) {
  crypto::Result<std::vector<Row>> rows = index_->query({});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 6u);
  const Row& accepted = (*rows)[1];
  EXPECT_EQ(accepted.event, "object.accepted");
  EXPECT_EQ(accepted.ts_ms, *parse_day("2026-11-27"));
  EXPECT_EQ(accepted.size, 2048u);
  EXPECT_EQ(accepted.verdict, "accepted");
  EXPECT_EQ(accepted.severity, "info");
  EXPECT_TRUE(audit::parse_record(accepted.line).ok());
  EXPECT_EQ(accepted.line.find('\n'), std::string::npos);
  EXPECT_FALSE((*rows)[5].size.has_value()) << "a size that is not a number is left out";
  EXPECT_EQ((*rows)[3].object, "") << "link.down has no object";
}

TEST(When, Forms) {
  EXPECT_EQ(parse_when("2026-11-27"), parse_day("2026-11-27"));
  EXPECT_EQ(*parse_when("2026-11-27T10:00") - *parse_day("2026-11-27"), 10 * 3600 * 1000);
  EXPECT_EQ(*parse_when("2026-11-27T10:00:05") - *parse_day("2026-11-27"), (10 * 3600 + 5) * 1000);
  EXPECT_EQ(*parse_when("2026-11-27T10:00:05.123Z") - *parse_day("2026-11-27"), (10 * 3600 + 5) * 1000 + 123);
  EXPECT_FALSE(parse_when("2026-02-30"));
  EXPECT_FALSE(parse_when("27.11.2026"));
  EXPECT_FALSE(parse_when("2026-11-27 10:00"));
  EXPECT_EQ(day_of(*parse_when("2026-11-27T23:59:59.999Z")), "2026-11-27");
  EXPECT_EQ(day_of(*parse_day("1969-12-31")), "1969-12-31");
}

}  // namespace
}  // namespace ferry::auditdb

// The spool on real directories: create, move, list, update, discard; start-up
// recovery from every crash point of create and move (made by hand, and by
// kill -9 of a working child); partial objects on the receiving side.
#include "ferry/spool/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/spool/free_space.h"
#include "tests/unit/spool/temp_tree.h"

namespace ferry::spool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using test::exists;
using test::names;
using test::read_file;
using test::sm3_of;
using test::write_file;

ObjectRecord draft(const std::string& path, const std::string& channel = "docs-in") {
  ObjectRecord r;
  r.id = *ObjectId::generate();
  r.channel = channel;
  r.path = path;
  r.verdict = "ingested";
  return r;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  // Closes the spool (releasing its lock) and opens it again, as a restart.
  Spool& reopen() {
    spool_.reset();
    auto s = Spool::open(dir(), [this] { return ++now_; });
    EXPECT_TRUE(s.ok()) << s.error().message;
    spool_.emplace(std::move(*s));
    return *spool_;
  }

  RecoveryReport recover() {
    auto r = spool_->recover();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : RecoveryReport{};
  }

  ObjectRecord create(const std::string& content, State state = State::incoming, const std::string& path = "f.txt") {
    write_file(tree_.path("src/input"), content);
    auto r = spool_->create_from_file(tree_.path("src/input"), draft(path), state);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : ObjectRecord{};
  }

  std::string dir() const { return tree_.path("spool"); }
  std::string state_dir(State s) const { return dir() + "/" + std::string(state_name(s)); }
  std::string file(State s, const ObjectId& id, const char* suffix) const {
    return state_dir(s) + "/" + id.hex() + suffix;
  }

  // Every object is in exactly one state, with one record and one data file
  // whose bytes match the record. Returns id -> state.
  std::map<ObjectId, State> consistent() {
    std::map<ObjectId, State> where;
    for (State s : kAllStates) {
      auto listed = spool_->list(s);
      EXPECT_TRUE(listed.ok()) << listed.error().message;
      if (!listed.ok()) continue;
      for (const ObjectRecord& r : *listed) {
        EXPECT_TRUE(where.emplace(r.id, s).second) << r.id.hex() << " in two states";
        const std::string data = read_file(file(s, r.id, ".data"));
        if (s != State::partial) {
          EXPECT_EQ(data.size(), r.size);
          EXPECT_EQ(sm3_of(data), r.sm3) << r.id.hex();
        }
      }
      for (const std::string& name : names(state_dir(s))) {
        if (name.ends_with(".data")) {
          EXPECT_TRUE(where.count(*ObjectId::parse(name.substr(0, 32)))) << "stray " << name;
        }
      }
    }
    EXPECT_THAT(names(dir() + "/tmp"), ::testing::IsEmpty());
    return where;
  }

  // A second recovery finds nothing more to do.
  void expect_settled() {
    RecoveryReport again = recover();
    EXPECT_EQ(again.tmp_removed + again.uncommitted_removed + again.moves_finished + again.stale_removed +
                  again.records_without_data + again.unreadable,
              0u);
  }

  void write_record_as(const ObjectRecord& r, const std::string& path) {
    auto text = encode_record(r);
    ASSERT_TRUE(text.ok());
    write_file(path, *text);
  }

  test::TempTree tree_;
  std::int64_t now_ = 1718000000000;
  std::optional<Spool> spool_;
};

TEST_F(SpoolTest, OpenMakesEveryStateDirectoryPrivate) {
  EXPECT_THAT(names(dir()), ElementsAre("delivered-ids", "done", "incoming", "lock", "outgoing", "partial",
                                        "pending", "quarantine", "received", "tmp"));
  struct stat st;
  ASSERT_EQ(::stat(state_dir(State::incoming).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(spool_->delivered_ids_dir(), dir() + "/delivered-ids");
}

TEST_F(SpoolTest, ASecondOpenOfTheSameSpoolIsRefused) {
  auto second = Spool::open(dir());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.error().message, HasSubstr("in use"));
  spool_.reset();
  EXPECT_TRUE(Spool::open(dir()).ok());
}

TEST_F(SpoolTest, OpenRefusesASymlinkedStateDirectory) {
  spool_.reset();
  const std::string other = tree_.path("elsewhere");
  ::mkdir(other.c_str(), 0700);
  std::filesystem::remove(state_dir(State::outgoing));
  ASSERT_EQ(::symlink(other.c_str(), state_dir(State::outgoing).c_str()), 0);
  auto s = Spool::open(dir());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("outgoing: not a directory"));
}

TEST_F(SpoolTest, CreateCopiesTheBytesAndCommitsARecord) {
  const ObjectRecord r = create("hello, ferry", State::incoming, "报告/年报 2024.pdf");
  EXPECT_EQ(r.size, 12u);
  EXPECT_EQ(r.sm3, sm3_of("hello, ferry"));
  EXPECT_EQ(r.revision, 1u);
  EXPECT_EQ(r.state, State::incoming);
  EXPECT_GT(r.created_ms, 0);
  EXPECT_EQ(read_file(spool_->data_path(r.id, State::incoming)), "hello, ferry");
  auto back = spool_->read(r.id, State::incoming);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, r);
  EXPECT_EQ(*spool_->find(r.id), State::incoming);
  EXPECT_THAT(names(dir() + "/tmp"), ::testing::IsEmpty());
}

TEST_F(SpoolTest, CreateRefusesAnIdAlreadyInTheSpool) {
  const ObjectRecord r = create("one");
  write_file(tree_.path("src/again"), "two");
  ObjectRecord again = draft("g");
  again.id = r.id;
  auto s = spool_->create_from_file(tree_.path("src/again"), again, State::quarantine);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("already exists in incoming"));
  EXPECT_EQ(read_file(spool_->data_path(r.id, State::incoming)), "one");
}

TEST_F(SpoolTest, MoveRenamesTheDataAndRewritesTheRecord) {
  const ObjectRecord r = create("payload");
  auto moved = spool_->move(r.id, State::incoming, State::outgoing, [](ObjectRecord& rec) {
    rec.verdict = "accepted";
    rec.reasons.push_back({"type.checked", "pdf"});
  });
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->state, State::outgoing);
  EXPECT_EQ(moved->revision, 2u);
  EXPECT_EQ(moved->verdict, "accepted");
  EXPECT_GT(moved->updated_ms, r.updated_ms);
  EXPECT_EQ(moved->created_ms, r.created_ms);
  EXPECT_FALSE(exists(file(State::incoming, r.id, ".rec")));
  EXPECT_FALSE(exists(file(State::incoming, r.id, ".data")));
  EXPECT_EQ(read_file(file(State::outgoing, r.id, ".data")), "payload");
  EXPECT_EQ(*spool_->read(r.id, State::outgoing), *moved);
  EXPECT_EQ(*spool_->find(r.id), State::outgoing);
}

TEST_F(SpoolTest, MoveOfAnObjectNotThereFailsAndChangesNothing) {
  const ObjectRecord r = create("x");
  auto moved = spool_->move(r.id, State::outgoing, State::done);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, crypto::Errc::io);
  EXPECT_EQ(*spool_->find(r.id), State::incoming);
}

TEST_F(SpoolTest, ListIsOldestFirst) {
  const ObjectRecord a = create("a");
  const ObjectRecord b = create("b");
  const ObjectRecord c = create("c");
  auto listed = spool_->list(State::incoming);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].id, a.id);
  EXPECT_EQ((*listed)[1].id, b.id);
  EXPECT_EQ((*listed)[2].id, c.id);
  EXPECT_THAT(*spool_->list(State::outgoing), ::testing::IsEmpty());
}

TEST_F(SpoolTest, UpdateRewritesTheRecordInPlace) {
  const ObjectRecord r = create("x");
  auto updated = spool_->update(r.id, State::incoming, [](ObjectRecord& rec) { rec.peer_serial = 9; });
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->revision, 2u);
  EXPECT_EQ(spool_->read(r.id, State::incoming)->peer_serial, 9u);
}

TEST_F(SpoolTest, AnUpdateThatBreaksTheLimitsIsRefusedAndChangesNothing) {
  const ObjectRecord r = create("x");
  auto updated = spool_->update(r.id, State::incoming, [](ObjectRecord& rec) { rec.verdict = "Not A Token"; });
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(*spool_->read(r.id, State::incoming), r);
}

TEST_F(SpoolTest, DiscardRemovesBothFiles) {
  const ObjectRecord r = create("x");
  ASSERT_TRUE(spool_->discard(r.id, State::incoming).ok());
  EXPECT_THAT(names(state_dir(State::incoming)), ::testing::IsEmpty());
  EXPECT_FALSE(*spool_->find(r.id));
  EXPECT_FALSE(spool_->discard(r.id, State::incoming).ok());
}

TEST_F(SpoolTest, RecoveryOfACleanSpoolCountsObjectsPerState) {
  create("a");
  create("b");
  const ObjectRecord c = create("c");
  ASSERT_TRUE(spool_->move(c.id, State::incoming, State::quarantine).ok());
  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.objects[State::incoming], 2u);
  EXPECT_EQ(report.objects[State::quarantine], 1u);
  EXPECT_EQ(report.objects[State::outgoing], 0u);
  expect_settled();
}

// create() by hand, stopped after each of its steps; and with the two
// renames persisted in the other order.
TEST_F(SpoolTest, RecoveryAfterACrashAtEachStepOfCreate) {
  for (int steps = 0; steps <= 5; ++steps) {
    SCOPED_TRACE("steps done: " + std::to_string(steps));
    ObjectRecord r = draft("crash.txt");
    r.size = 5;
    r.sm3 = sm3_of("bytes");
    r.revision = 1;
    r.state = State::incoming;
    r.created_ms = r.updated_ms = 1;
    const std::string tmp_data = dir() + "/tmp/" + r.id.hex() + ".data";
    const std::string tmp_rec = dir() + "/tmp/" + r.id.hex() + ".rec";
    if (steps >= 1) write_file(tmp_data, "bytes");
    if (steps >= 2) write_record_as(r, tmp_rec);
    if (steps == 3 || steps == 4) ::rename(tmp_data.c_str(), file(State::incoming, r.id, ".data").c_str());
    if (steps == 4) ::rename(tmp_rec.c_str(), file(State::incoming, r.id, ".rec").c_str());
    if (steps == 5) ::rename(tmp_rec.c_str(), file(State::incoming, r.id, ".rec").c_str());  // record first
    reopen();
    RecoveryReport report = recover();
    auto where = consistent();
    if (steps >= 4) {
      ASSERT_EQ(where.count(r.id), 1u);
      EXPECT_EQ(where[r.id], State::incoming);
      EXPECT_EQ(read_file(file(State::incoming, r.id, ".data")), "bytes");
      EXPECT_EQ(report.moves_finished, steps == 5 ? 1u : 0u);
      ASSERT_TRUE(spool_->discard(r.id, State::incoming).ok());
    } else {
      EXPECT_EQ(where.count(r.id), 0u);
      EXPECT_EQ(report.uncommitted_removed + report.tmp_removed, static_cast<std::size_t>(std::min(steps, 2)));
    }
    expect_settled();
  }
}

// move() by hand, stopped after each of its steps; and with the data rename
// persisted but not the record's.
TEST_F(SpoolTest, RecoveryAfterACrashAtEachStepOfMove) {
  for (int steps = 0; steps <= 5; ++steps) {
    SCOPED_TRACE("steps done: " + std::to_string(steps));
    const ObjectRecord r = create("moving bytes");
    ObjectRecord next = r;
    next.state = State::outgoing;
    next.revision = r.revision + 1;
    next.verdict = "accepted";
    const std::string tmp_rec = dir() + "/tmp/" + r.id.hex() + ".rec";
    const std::string from_data = file(State::incoming, r.id, ".data");
    const std::string to_data = file(State::outgoing, r.id, ".data");
    if (steps >= 1) write_record_as(next, tmp_rec);
    if (steps >= 2 && steps != 5) ::rename(tmp_rec.c_str(), file(State::outgoing, r.id, ".rec").c_str());
    if (steps >= 3) ::rename(from_data.c_str(), to_data.c_str());
    if (steps == 4) ::unlink(file(State::incoming, r.id, ".rec").c_str());
    reopen();
    recover();
    auto where = consistent();
    ASSERT_EQ(where.count(r.id), 1u);
    const State expected = (steps >= 2 && steps != 5) ? State::outgoing : State::incoming;
    EXPECT_EQ(where[r.id], expected);
    auto rec = spool_->read(r.id, expected);
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->verdict, expected == State::outgoing ? "accepted" : "ingested");
    EXPECT_EQ(read_file(file(expected, r.id, ".data")), "moving bytes");
    expect_settled();
    ASSERT_TRUE(spool_->discard(r.id, expected).ok());
  }
}

TEST_F(SpoolTest, RecoveryKeepsTheNewestOfSeveralRecords) {
  const ObjectRecord r = create("x");
  ObjectRecord older = r;
  older.state = State::quarantine;
  older.revision = 0;
  ObjectRecord newer = r;
  newer.state = State::done;
  newer.revision = 5;
  write_record_as(older, file(State::quarantine, r.id, ".rec"));
  write_record_as(newer, file(State::done, r.id, ".rec"));
  write_file(file(State::quarantine, r.id, ".data"), "x");  // a stale second copy
  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.moves_finished, 1u);  // the data follows the newest record
  auto where = consistent();
  EXPECT_EQ(where[r.id], State::done);
  EXPECT_EQ(report.stale_removed, 3u);  // two records and one data copy
  expect_settled();
}

TEST_F(SpoolTest, RecoverySetsAsideRecordsWithoutDataAndRestartsPartials) {
  const ObjectRecord lost = create("gone");
  ::unlink(file(State::incoming, lost.id, ".data").c_str());
  ObjectRecord p = draft("p.bin");
  p.size = 10;
  ASSERT_TRUE(spool_->open_partial(p).ok());
  ::unlink(file(State::partial, p.id, ".data").c_str());
  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.records_without_data, 2u);
  EXPECT_TRUE(exists(state_dir(State::quarantine) + "/" + lost.id.hex() + ".incoming.rec.nodata"));
  auto where = consistent();
  EXPECT_EQ(where.count(lost.id), 0u);
  EXPECT_EQ(where[p.id], State::partial);
  EXPECT_EQ(*spool_->partial_size(p.id), 0u);
}

TEST_F(SpoolTest, RecoverySetsAsideUnreadableRecordsWithTheirData) {
  const ObjectRecord r = create("kept for the operator");
  write_file(file(State::incoming, r.id, ".rec"), "ferry-spool-record/1\ngarbage\n");
  const ObjectRecord other = create("fine");
  ObjectRecord wrong_state = other;
  wrong_state.state = State::done;  // names another state than its directory
  write_record_as(wrong_state, file(State::incoming, other.id, ".rec"));
  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.unreadable, 2u);
  const std::string q = state_dir(State::quarantine) + "/";
  EXPECT_EQ(read_file(q + r.id.hex() + ".incoming.data.unreadable"), "kept for the operator");
  EXPECT_TRUE(exists(q + r.id.hex() + ".incoming.rec.unreadable"));
  auto where = consistent();
  EXPECT_TRUE(where.empty());
  EXPECT_THAT(*spool_->list(State::quarantine), ::testing::IsEmpty());
  expect_settled();
}

TEST_F(SpoolTest, RecoveryLeavesForeignFilesAlone) {
  write_file(state_dir(State::incoming) + "/README", "not ours");
  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.foreign, 1u);
  EXPECT_EQ(read_file(state_dir(State::incoming) + "/README"), "not ours");
}

// A child creates and moves objects, reporting each completed call on a
// pipe, and is killed with SIGKILL at a random moment. After recovery every
// reported object is where it was last reported, at most one unreported
// create or move is visible, and nothing is duplicated or torn.
TEST_F(SpoolTest, KillNineAtRandomMomentsLosesAndDoublesNothing) {
  std::mt19937_64 rng(42);
  std::set<ObjectId> all_reported;
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    spool_.reset();
    test::Killed killed = test::run_and_kill(
        [&](int report) {
          auto s = Spool::open(dir());
          if (!s.ok()) ::_exit(3);
          std::mt19937_64 crng(static_cast<std::uint64_t>(round));
          for (int i = 0;; ++i) {
            const std::string src = tree_.path("src/child" + std::to_string(i % 4));
            write_file(src, std::string(crng() % 20000, static_cast<char>('a' + i % 26)));
            auto r = s->create_from_file(src, draft("k" + std::to_string(i)), State::incoming);
            if (!r.ok()) ::_exit(4);
            test::report_line(report, "c " + r->id.hex());
            if (i % 2 == 0) {
              if (!s->move(r->id, State::incoming, State::outgoing).ok()) ::_exit(6);
              test::report_line(report, "m " + r->id.hex());
            }
          }
        },
        1 + rng() % 12, std::chrono::microseconds(rng() % 3000));
    ASSERT_TRUE(killed.by_sigkill);
    const std::string& log = killed.report;

    std::map<ObjectId, State> reported;
    std::istringstream lines(log);
    for (std::string op, hex; lines >> op >> hex;) {
      reported[*ObjectId::parse(hex)] = op == "c" ? State::incoming : State::outgoing;
    }
    reopen();
    recover();
    auto where = consistent();
    std::size_t unreported = 0;
    for (const auto& [id, state] : where) {
      if (all_reported.count(id)) continue;  // earlier rounds
      auto it = reported.find(id);
      if (it == reported.end()) {
        ++unreported;  // created, killed before it said so
        continue;
      }
      if (it->second != state) ++unreported;  // moved, killed before it said so
    }
    for (const auto& [id, state] : reported) {
      ASSERT_EQ(where.count(id), 1u) << "reported object lost: " << id.hex();
      all_reported.insert(id);
    }
    EXPECT_LE(unreported, 1u);
    for (const auto& [id, state] : where) all_reported.insert(id);
  }
  EXPECT_GE(all_reported.size(), 12u);  // progress before each kill
}

class PartialTest : public SpoolTest {
 protected:
  ObjectRecord incoming_record(const std::string& content) {
    ObjectRecord r = draft("dir/收到的文件.bin", "release-out");
    r.size = content.size();
    r.peer_serial = 3;
    r.verdict = "receiving";
    return r;
  }
};

TEST_F(PartialTest, ChunksAtOffsetsThenCompleteWithTheRightDigest) {
  const std::string content = "0123456789abcdefghijklmnopqrstuvwxyz";
  const ObjectRecord r = incoming_record(content);
  auto offset = spool_->open_partial(r);
  ASSERT_TRUE(offset.ok()) << offset.error().message;
  EXPECT_EQ(*offset, 0u);
  ASSERT_TRUE(spool_->write_partial(r.id, 0, crypto::as_bytes(content.substr(0, 10))).ok());
  ASSERT_TRUE(spool_->write_partial(r.id, 10, crypto::as_bytes(content.substr(10, 10))).ok());
  // A retransmitted chunk overlapping what is there.
  ASSERT_TRUE(spool_->write_partial(r.id, 5, crypto::as_bytes(content.substr(5, 10))).ok());
  EXPECT_EQ(*spool_->partial_size(r.id), 20u);
  ASSERT_TRUE(spool_->write_partial(r.id, 20, crypto::as_bytes(content.substr(20))).ok());
  auto done = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->state, State::received);
  EXPECT_EQ(done->sm3, sm3_of(content));
  EXPECT_EQ(done->peer_serial, 3u);
  EXPECT_EQ(done->path, "dir/收到的文件.bin");
  EXPECT_EQ(read_file(spool_->data_path(r.id, State::received)), content);
  EXPECT_THAT(names(state_dir(State::partial)), ::testing::IsEmpty());
}

TEST_F(PartialTest, GapsAndWritesPastTheDeclaredSizeAreRefused) {
  const ObjectRecord r = incoming_record("0123456789");
  ASSERT_TRUE(spool_->open_partial(r).ok());
  auto gap = spool_->write_partial(r.id, 4, crypto::as_bytes("xx"));
  ASSERT_FALSE(gap.ok());
  EXPECT_THAT(gap.error().message, HasSubstr("gap"));
  ASSERT_TRUE(spool_->write_partial(r.id, 0, crypto::as_bytes("01234567")).ok());
  auto past = spool_->write_partial(r.id, 8, crypto::as_bytes("890"));
  ASSERT_FALSE(past.ok());
  EXPECT_THAT(past.error().message, HasSubstr("declared size of 10"));
  EXPECT_FALSE(spool_->write_partial(r.id, UINT64_MAX, crypto::as_bytes("x")).ok());
  EXPECT_EQ(*spool_->partial_size(r.id), 8u);
}

TEST_F(PartialTest, ResumesAfterARestartFromTheDurableSize) {
  const std::string content(100000, 'z');
  const ObjectRecord r = incoming_record(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  ASSERT_TRUE(spool_->write_partial(r.id, 0, crypto::as_bytes(content.substr(0, 60000))).ok());
  ASSERT_EQ(*spool_->partial_size(r.id), 60000u);
  reopen();
  recover();
  auto resume = spool_->open_partial(r);
  ASSERT_TRUE(resume.ok()) << resume.error().message;
  EXPECT_EQ(*resume, 60000u);
  ASSERT_TRUE(spool_->write_partial(r.id, *resume, crypto::as_bytes(content.substr(*resume))).ok());
  EXPECT_TRUE(spool_->complete_partial(r.id, content.size(), sm3_of(content)).ok());
}

TEST_F(PartialTest, AWrongDigestOrSizeIsRefusedAndThePartialStays) {
  const std::string content = "the real bytes";
  const ObjectRecord r = incoming_record(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  ASSERT_TRUE(spool_->write_partial(r.id, 0, crypto::as_bytes("the fake bytes")).ok());
  auto bad = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, crypto::Errc::verify_failed);
  EXPECT_THAT(bad.error().message, HasSubstr("expected 14 bytes"));
  auto short_size = spool_->complete_partial(r.id, 13, sm3_of("the fake byte"));
  ASSERT_FALSE(short_size.ok());
  EXPECT_EQ(*spool_->find(r.id), State::partial);
  ASSERT_TRUE(spool_->discard(r.id, State::partial).ok());
  EXPECT_THAT(names(state_dir(State::partial)), ::testing::IsEmpty());
  // Starting again after the discard.
  EXPECT_EQ(*spool_->open_partial(r), 0u);
}

TEST_F(PartialTest, ADuplicateOrAChangedTransferIsRefused) {
  const std::string content = "abc";
  const ObjectRecord r = incoming_record(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  ObjectRecord changed = r;
  changed.size = 4;
  auto c = spool_->open_partial(changed);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("another channel, path or size"));
  ASSERT_TRUE(spool_->write_partial(r.id, 0, crypto::as_bytes(content)).ok());
  ASSERT_TRUE(spool_->complete_partial(r.id, 3, sm3_of(content)).ok());
  auto dup = spool_->open_partial(r);
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.error().message, HasSubstr("already in received"));
}

TEST_F(PartialTest, RecoveryRemovesAPartialDataFileThatNeverGotItsRecord) {
  const ObjectId id = *ObjectId::generate();
  write_file(file(State::partial, id, ".data"), "half");
  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.uncommitted_removed, 1u);
  EXPECT_THAT(names(state_dir(State::partial)), ::testing::IsEmpty());
}

TEST(FreeSpaceTest, ReportsBytesAvailableOrAnError) {
  auto free = free_bytes("/tmp");
  ASSERT_TRUE(free.ok());
  EXPECT_GT(*free, 0u);
  auto missing = free_bytes("/nonexistent/ferry");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, crypto::Errc::io);
}

}  // namespace
}  // namespace ferry::spool

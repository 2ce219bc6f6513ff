// Group commit in the spool and around it: create_batch, move_batch,
// forget with recycled files in tmp/; partial objects
// hashed as they arrive; take_batch from a source tree with reused claim
// directories; deliver_batch by hard link, and its recognition of an object
// delivered before a crash.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string_view>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/fs/fd.h"
#include "ferry/spool/delivery.h"
#include "ferry/spool/source_scanner.h"
#include "ferry/spool/spool.h"
#include "tests/unit/spool/temp_tree.h"

namespace ferry::spool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using std::chrono::milliseconds;
using test::exists;
using test::names;
using test::read_file;
using test::sm3_of;
using test::write_file;
namespace stdfs = std::filesystem;

ObjectRecord draft(const std::string& path, const std::string& channel = "docs-in") {
  ObjectRecord r;
  r.id = *ObjectId::generate();
  r.channel = channel;
  r.path = path;
  r.verdict = "ingested";
  return r;
}

std::string random_bytes(std::mt19937_64& rng, std::size_t size) {
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Mostly small objects, some large enough to span many blocks, so that a
// recycled file is sometimes much longer and sometimes much shorter than
// what is written into it next.
std::size_t object_size(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0: return rng() % 16;
    case 1: return rng() % 4096;
    case 2: return 4096 + rng() % (60 * 1024);
    default: return 100 * 1024 + rng() % (156 * 1024);
  }
}

ino_t inode_of(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
  return st.st_ino;
}

nlink_t links_of(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
  return st.st_nlink;
}

// Inodes of every regular file below `dir`.
std::set<ino_t> file_inodes_below(const std::string& dir) {
  std::set<ino_t> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (stdfs::is_regular_file(e.symlink_status())) out.insert(inode_of(e.path().string()));
  }
  return out;
}

// Overwrites bytes of a file where they are: same inode, same size.
void overwrite_in_place(const std::string& path, std::size_t offset, const std::string& bytes) {
  fs::Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) throw std::runtime_error("cannot open " + path);
  if (::pwrite(fd.get(), bytes.data(), bytes.size(), static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes.size())) {
    throw std::runtime_error("cannot write " + path);
  }
}

// What the spool should hold of one object.
struct Held {
  State state = State::incoming;
  std::string bytes;
  std::uint64_t revision = 1;
};
using Model = std::map<ObjectId, Held>;

// One object for create_batch: its bytes come from a file or from memory.
struct Source {
  ObjectRecord record;
  State state = State::incoming;
  std::string bytes;
  bool from_file = false;
};

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  // Closes the spool (releasing its lock) and opens it again, as a restart.
  void reopen() {
    spool_.reset();
    auto s = Spool::open(dir(), [this] { return ++now_; });
    ASSERT_TRUE(s.ok()) << s.error().message;
    spool_.emplace(std::move(*s));
  }

  RecoveryReport recover() {
    auto r = spool_->recover();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : RecoveryReport{};
  }

  std::string dir() const { return tree_.path("spool"); }
  std::string tmp_dir() const { return dir() + "/tmp"; }

  std::vector<Result<ObjectRecord>> create_batch(const std::vector<Source>& sources) {
    std::vector<fs::Fd> files;
    std::vector<std::string> paths;
    std::vector<Spool::NewObject> objects;
    for (const Source& source : sources) {
      Spool::NewObject o;
      o.record = source.record;
      o.state = source.state;
      if (source.from_file) {
        paths.push_back(tree_.path("sources/" + std::to_string(paths.size())));
        write_file(paths.back(), source.bytes);
        files.emplace_back(::open(paths.back().c_str(), O_RDONLY | O_CLOEXEC));
        if (!files.back().valid()) throw std::runtime_error("cannot open " + paths.back());
        o.source_fd = files.back().get();
      } else {
        o.bytes = crypto::as_bytes(source.bytes);
      }
      objects.push_back(std::move(o));
    }
    std::vector<Result<ObjectRecord>> out = spool_->create_batch(objects);
    for (const std::string& p : paths) ::unlink(p.c_str());
    return out;
  }

  // create_batch of sources that must all be taken; adds them to `model`.
  void create_all(const std::vector<Source>& sources, Model& model) {
    std::vector<Result<ObjectRecord>> created = create_batch(sources);
    ASSERT_EQ(created.size(), sources.size());
    for (std::size_t i = 0; i < sources.size(); ++i) {
      ASSERT_TRUE(created[i].ok()) << created[i].error().message;
      model[created[i]->id] = Held{sources[i].state, sources[i].bytes, 1};
    }
  }

  // One object into `state` from memory; its record as committed.
  ObjectRecord create_one(const std::string& path, const std::string& bytes, State state = State::incoming) {
    auto created = create_batch({{draft(path), state, bytes, false}});
    if (!created[0].ok()) throw std::runtime_error(created[0].error().message);
    return *created[0];
  }

  // Every object of the model and no other, each in its state with its
  // bytes, size, SM3 and revision; no data file without its record.
  void expect_spool_holds(const Model& model) {
    std::size_t listed_count = 0;
    for (State s : kAllStates) {
      auto listed = spool_->list(s);
      ASSERT_TRUE(listed.ok()) << listed.error().message;
      for (const ObjectRecord& r : *listed) {
        ++listed_count;
        auto it = model.find(r.id);
        ASSERT_NE(it, model.end()) << "unexpected object " << r.id.hex() << " in " << state_name(s);
        const Held& want = it->second;
        EXPECT_EQ(state_name(s), state_name(want.state)) << r.id.hex();
        const std::string data = read_file(spool_->data_path(r.id, s));
        EXPECT_EQ(data.size(), want.bytes.size()) << r.id.hex();
        EXPECT_TRUE(data == want.bytes) << r.id.hex() << ": the data file holds other bytes";
        EXPECT_EQ(r.size, want.bytes.size()) << r.id.hex();
        EXPECT_EQ(r.sm3, sm3_of(want.bytes)) << r.id.hex();
        EXPECT_EQ(r.revision, want.revision) << r.id.hex();
      }
      for (const std::string& name : names(spool_->state_dir(s))) {
        if (!name.ends_with(".data")) continue;
        EXPECT_TRUE(exists(spool_->state_dir(s) + "/" + name.substr(0, name.size() - 5) + ".rec"))
            << "data without a record: " << state_name(s) << "/" << name;
      }
    }
    EXPECT_EQ(listed_count, model.size());
  }

  test::TempTree tree_;
  std::atomic<std::int64_t> now_ = 1718000000000;  // the clock is read on two threads in one test
  std::optional<Spool> spool_;
};

// ---------------------------------------------------------------------------
// create_batch

TEST_F(BatchTest, CreateBatchTakesObjectsFromFilesAndFromMemoryEachWithItsSizeAndSm3) {
  std::mt19937_64 rng(1);
  const std::vector<State> states = {State::incoming, State::outgoing, State::received, State::quarantine};
  const std::vector<std::size_t> sizes = {0, 0, 1, 10, 4096, 4097, 65536, 200 * 1024};
  std::vector<Source> sources;
  for (std::size_t i = 0; i < 20; ++i) {
    const std::size_t size = i < sizes.size() ? sizes[i] : object_size(rng);
    sources.push_back({draft("报告/第" + std::to_string(i) + "号 文件.pdf"), states[i % states.size()],
                       random_bytes(rng, size), i % 2 == 0});
  }
  std::vector<Result<ObjectRecord>> created = create_batch(sources);
  ASSERT_EQ(created.size(), sources.size());
  Model model;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    SCOPED_TRACE("object " + std::to_string(i));
    ASSERT_TRUE(created[i].ok()) << created[i].error().message;
    const ObjectRecord& r = *created[i];
    EXPECT_EQ(r.id, sources[i].record.id);
    EXPECT_EQ(r.path, sources[i].record.path);
    EXPECT_EQ(r.channel, "docs-in");
    EXPECT_EQ(r.state, sources[i].state);
    EXPECT_EQ(r.revision, 1u);
    EXPECT_EQ(r.size, sources[i].bytes.size());
    EXPECT_EQ(r.sm3, sm3_of(sources[i].bytes));
    EXPECT_EQ(test::must(spool_->read(r.id, r.state)), r);
    model[r.id] = Held{sources[i].state, sources[i].bytes, 1};
  }
  expect_spool_holds(model);
  for (State s : states) EXPECT_EQ(test::must(spool_->list(s)).size(), 5u) << state_name(s);
}

TEST_F(BatchTest, CreateBatchReadsAFileFromItsCurrentOffset) {
  write_file(tree_.path("greeting"), "hello world");
  fs::Fd fd(::open(tree_.path("greeting").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::lseek(fd.get(), 6, SEEK_SET), 6);
  Spool::NewObject o;
  o.record = draft("greeting.txt");
  o.source_fd = fd.get();
  auto created = spool_->create_batch({o});
  ASSERT_TRUE(created[0].ok()) << created[0].error().message;
  EXPECT_EQ(created[0]->size, 5u);
  EXPECT_EQ(created[0]->sm3, sm3_of("world"));
  EXPECT_EQ(read_file(spool_->data_path(o.record.id, State::incoming)), "world");
}

TEST_F(BatchTest, InACreateBatchAnIdAlreadyThereOrABadRecordFailsAloneAndTheRestAreTaken) {
  const ObjectRecord old = create_one("old.txt", "finished long ago", State::done);
  ObjectRecord same_id = draft("intruder.txt");
  same_id.id = old.id;
  ObjectRecord no_channel = draft("no-channel.txt");
  no_channel.channel = "";
  const std::vector<Source> sources = {
      {draft("first.txt"), State::incoming, "first", false},
      {same_id, State::incoming, "intruder bytes", true},
      {no_channel, State::incoming, "x", false},
      {draft("last.txt"), State::outgoing, "last", true},
  };
  std::vector<Result<ObjectRecord>> created = create_batch(sources);
  ASSERT_EQ(created.size(), 4u);
  ASSERT_TRUE(created[0].ok()) << created[0].error().message;
  ASSERT_FALSE(created[1].ok());
  EXPECT_EQ(created[1].error().code, crypto::Errc::invalid_argument);
  EXPECT_THAT(created[1].error().message, HasSubstr("already exists in done"));
  ASSERT_FALSE(created[2].ok());
  EXPECT_EQ(created[2].error().code, crypto::Errc::invalid_argument);
  ASSERT_TRUE(created[3].ok()) << created[3].error().message;

  Model model;
  model[old.id] = Held{State::done, "finished long ago", 1};
  model[created[0]->id] = Held{State::incoming, "first", 1};
  model[created[3]->id] = Held{State::outgoing, "last", 1};
  expect_spool_holds(model);
  EXPECT_EQ(test::must(spool_->read(old.id, State::done)), old);
  EXPECT_THAT(names(tmp_dir()), IsEmpty());
}

TEST_F(BatchTest, ObjectsOfABatchSurviveARestart) {
  std::mt19937_64 rng(2);
  std::vector<Source> sources;
  for (std::size_t i = 0; i < 12; ++i) {
    sources.push_back({draft("restart/" + std::to_string(i)), i % 3 == 0 ? State::received : State::incoming,
                       random_bytes(rng, object_size(rng)), i % 2 == 1});
  }
  Model model;
  create_all(sources, model);
  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.objects[State::incoming], 8u);
  EXPECT_EQ(report.objects[State::received], 4u);
  EXPECT_EQ(report.tmp_removed + report.uncommitted_removed + report.moves_finished + report.stale_removed +
                report.records_without_data + report.unreadable + report.foreign,
            0u);
  expect_spool_holds(model);
}

// ---------------------------------------------------------------------------
// forget and recycled files

TEST_F(BatchTest, AFileReusedAfterALargeObjectHoldsOnlyTheNewBytes) {
  std::mt19937_64 rng(3);
  const ObjectRecord large = create_one("large.bin", random_bytes(rng, 200 * 1024));
  ASSERT_TRUE(spool_->forget(large.id, State::incoming).ok());
  EXPECT_EQ(*spool_->find(large.id), std::nullopt);

  const ObjectRecord small = create_one("small.txt", "ten bytes!");
  EXPECT_EQ(read_file(spool_->data_path(small.id, State::incoming)), "ten bytes!");
  EXPECT_EQ(small.size, 10u);
  EXPECT_EQ(test::must(spool_->read(small.id, State::incoming)), small);

  // A record written into what was a large data file.
  const ObjectRecord other = create_one("other.bin", random_bytes(rng, 200 * 1024));
  ASSERT_TRUE(spool_->forget(other.id, State::incoming).ok());
  auto updated = spool_->update(small.id, State::incoming, [](ObjectRecord& r) { r.verdict = "accepted"; });
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  auto read_back = spool_->read(small.id, State::incoming);
  ASSERT_TRUE(read_back.ok()) << read_back.error().message;
  EXPECT_EQ(*read_back, *updated);
  EXPECT_EQ(read_back->verdict, "accepted");
  EXPECT_LT(stdfs::file_size(spool_->record_path(small.id, State::incoming)), 4096u);
  EXPECT_EQ(read_file(spool_->data_path(small.id, State::incoming)), "ten bytes!");
}

TEST_F(BatchTest, ForgetOfAnObjectNotThereIsAnError) {
  const ObjectRecord r = create_one("a.txt", "a");
  EXPECT_FALSE(spool_->forget(r.id, State::outgoing).ok());
  EXPECT_FALSE(spool_->forget(*ObjectId::generate(), State::incoming).ok());
  EXPECT_EQ(read_file(spool_->data_path(r.id, State::incoming)), "a");
}

// Seeded rounds of the daemon's steps: a batch in, some objects forgotten,
// some moved onward, some updated. The files the spool reuses were mostly
// something else of another size; every object must keep exactly its bytes.
TEST_F(BatchTest, RoundsOfCreateMoveUpdateAndForgetKeepEveryObjectsBytes) {
  std::mt19937_64 rng(20240611);
  Model model;
  for (int round = 0; round < 24; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<Source> sources;
    const std::size_t n = 1 + rng() % 12;
    for (std::size_t i = 0; i < n; ++i) {
      sources.push_back({draft("round " + std::to_string(round) + "/" + std::to_string(i)), State::incoming,
                         random_bytes(rng, object_size(rng)), rng() % 2 == 0});
    }
    create_all(sources, model);

    for (auto it = model.begin(); it != model.end();) {
      if (rng() % 3 == 0) {
        ASSERT_TRUE(spool_->forget(it->first, it->second.state).ok());
        it = model.erase(it);
      } else {
        ++it;
      }
    }

    std::vector<Spool::Move> moves;
    for (const auto& [id, held] : model) {
      if (held.state == State::incoming && rng() % 2 == 0) {
        moves.push_back({id, State::incoming, State::outgoing, [](ObjectRecord& r) { r.verdict = "accepted"; }});
      }
    }
    for (const Result<ObjectRecord>& m : spool_->move_batch(moves)) ASSERT_TRUE(m.ok()) << m.error().message;
    for (const Spool::Move& m : moves) {
      model[m.id].state = State::outgoing;
      ++model[m.id].revision;
    }

    for (auto& [id, held] : model) {
      if (held.state != State::outgoing || rng() % 3 != 0) continue;
      Result<ObjectRecord> u =
          spool_->update(id, State::outgoing, [](ObjectRecord& r) { r.reasons.push_back({"link.retry", "peer busy"}); });
      ASSERT_TRUE(u.ok()) << u.error().message;
      ++held.revision;
    }

    expect_spool_holds(model);
    if (HasFatalFailure()) return;
  }
  ASSERT_FALSE(names(tmp_dir()).empty()) << "precondition: the rounds left recycled files in tmp/";
  reopen();
  recover();
  EXPECT_THAT(names(tmp_dir()), IsEmpty());
  expect_spool_holds(model);
}

// A received object's data file is the delivered file when delivery made a
// hard link. Forgetting the object must not hand that inode to the next
// object: the delivered file would change under the user.
TEST_F(BatchTest, AFileLinkedOutOfTheSpoolIsNeverReusedForANewObject) {
  std::mt19937_64 rng(4);
  const std::string original = "delivered bytes " + random_bytes(rng, 8000);
  const ObjectRecord r = create_one("report.pdf", original, State::received);
  const std::string delivered = tree_.path("deliver/report.pdf");
  stdfs::create_directories(tree_.path("deliver"));
  ASSERT_EQ(::link(spool_->data_path(r.id, State::received).c_str(), delivered.c_str()), 0);
  ASSERT_TRUE(spool_->forget(r.id, State::received).ok());
  EXPECT_EQ(links_of(delivered), 1u);

  Model model;
  std::vector<Source> sources;
  for (std::size_t size : {std::size_t{3}, std::size_t{100}, std::size_t{8016}, std::size_t{50000}, std::size_t{0}}) {
    sources.push_back({draft("next/" + std::to_string(size)), State::received, random_bytes(rng, size), false});
  }
  create_all(sources, model);
  std::vector<Spool::Move> moves;
  for (const auto& [id, held] : model) moves.push_back({id, State::received, State::done, {}});
  for (const Result<ObjectRecord>& m : spool_->move_batch(moves)) ASSERT_TRUE(m.ok());

  EXPECT_TRUE(read_file(delivered) == original) << "the delivered file changed";
  EXPECT_EQ(links_of(delivered), 1u);
  EXPECT_EQ(file_inodes_below(dir()).count(inode_of(delivered)), 0u);
}

// The same through deliver(): the object is linked, moved to done, and
// forgotten there later.
TEST_F(BatchTest, AnObjectDeliveredAndForgottenFromDoneLeavesTheDeliveredFileAlone) {
  std::mt19937_64 rng(5);
  const std::string original = random_bytes(rng, 30000);
  const ObjectRecord r = create_one("年报.pdf", original, State::received);
  stdfs::create_directories(tree_.path("deliver"));
  auto d = deliver(*spool_, r.id, tree_.path("deliver"));
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_TRUE(spool_->forget(r.id, State::done).ok());
  for (int i = 0; i < 4; ++i) create_one("next/" + std::to_string(i), random_bytes(rng, 100 + 20000 * static_cast<std::size_t>(i)));
  EXPECT_TRUE(read_file(d->path) == original) << "the delivered file changed";
  EXPECT_EQ(file_inodes_below(dir()).count(inode_of(d->path)), 0u);
}

// ---------------------------------------------------------------------------
// move_batch

TEST_F(BatchTest, MoveBatchCommitsEachObjectInItsNewStateAndAMissingOneFailsAlone) {
  std::mt19937_64 rng(6);
  Model model;
  std::vector<Source> sources;
  for (std::size_t i = 0; i < 12; ++i) {
    sources.push_back({draft("move/" + std::to_string(i)), State::incoming, random_bytes(rng, object_size(rng)), false});
  }
  create_all(sources, model);
  const ObjectRecord elsewhere = create_one("done.txt", "already done", State::done);
  model[elsewhere.id] = Held{State::done, "already done", 1};
  const ObjectId nowhere = *ObjectId::generate();

  std::vector<Spool::Move> moves;
  for (const Source& s : sources) {
    moves.push_back({s.record.id, State::incoming, State::outgoing, [](ObjectRecord& r) {
                       r.verdict = "accepted";
                       r.reasons.push_back({"policy.pass", "rule 7"});
                     }});
  }
  moves.insert(moves.begin() + 5, Spool::Move{elsewhere.id, State::incoming, State::outgoing, {}});
  moves.push_back({nowhere, State::incoming, State::outgoing, {}});
  std::vector<Result<ObjectRecord>> moved = spool_->move_batch(moves);
  ASSERT_EQ(moved.size(), moves.size());
  for (std::size_t i = 0; i < moves.size(); ++i) {
    SCOPED_TRACE("move " + std::to_string(i));
    if (moves[i].id == elsewhere.id || moves[i].id == nowhere) {
      EXPECT_FALSE(moved[i].ok());
      continue;
    }
    ASSERT_TRUE(moved[i].ok()) << moved[i].error().message;
    EXPECT_EQ(moved[i]->state, State::outgoing);
    EXPECT_EQ(moved[i]->revision, 2u);
    EXPECT_EQ(moved[i]->verdict, "accepted");
    EXPECT_THAT(moved[i]->reasons, ElementsAre(Reason{"policy.pass", "rule 7"}));
    EXPECT_EQ(test::must(spool_->read(moves[i].id, State::outgoing)), *moved[i]);
    model[moves[i].id].state = State::outgoing;
    model[moves[i].id].revision = 2;
  }
  EXPECT_THAT(names(spool_->state_dir(State::incoming)), IsEmpty());  // old records and data gone
  EXPECT_EQ(test::must(spool_->read(elsewhere.id, State::done)), elsewhere);
  expect_spool_holds(model);

  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.objects[State::outgoing], 12u);
  EXPECT_EQ(report.objects[State::done], 1u);
  EXPECT_EQ(report.stale_removed + report.moves_finished + report.records_without_data + report.unreadable, 0u);
  expect_spool_holds(model);
}

// move_batch unlinks the old records without waiting for the disk; a crash
// may bring them back beside the new ones. Recovery keeps the newer.
TEST_F(BatchTest, OldRecordsACrashBringsBackAfterMoveBatchLoseToTheNewRevision) {
  std::mt19937_64 rng(7);
  Model model;
  std::vector<Source> sources;
  for (std::size_t i = 0; i < 10; ++i) {
    sources.push_back({draft("crash/" + std::to_string(i)), State::incoming, random_bytes(rng, object_size(rng)), true});
  }
  create_all(sources, model);
  std::map<ObjectId, std::string> old_records;
  std::vector<Spool::Move> moves;
  for (const auto& [id, held] : model) {
    old_records[id] = read_file(spool_->record_path(id, State::incoming));
    moves.push_back({id, State::incoming, State::outgoing, {}});
  }
  for (const Result<ObjectRecord>& m : spool_->move_batch(moves)) ASSERT_TRUE(m.ok());
  for (auto& [id, held] : model) {
    held.state = State::outgoing;
    held.revision = 2;
  }
  for (const auto& [id, text] : old_records) write_file(spool_->record_path(id, State::incoming), text);

  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.stale_removed, 10u);
  EXPECT_EQ(report.objects[State::outgoing], 10u);
  EXPECT_EQ(report.objects[State::incoming], 0u);
  expect_spool_holds(model);
}

// ---------------------------------------------------------------------------
// Recovery with recycled files in tmp/

TEST_F(BatchTest, RecoveryRemovesRecycledFilesAndKeepsEveryObject) {
  std::mt19937_64 rng(8);
  Model model;
  std::vector<Source> sources;
  for (std::size_t i = 0; i < 16; ++i) {
    sources.push_back({draft("spares/" + std::to_string(i)), State::incoming, random_bytes(rng, object_size(rng)), false});
  }
  create_all(sources, model);
  std::vector<Spool::Move> moves;
  std::size_t k = 0;
  for (auto it = model.begin(); it != model.end(); ++k) {
    if (k % 3 == 0) {
      ASSERT_TRUE(spool_->forget(it->first, State::incoming).ok());
      it = model.erase(it);
      continue;
    }
    if (k % 3 == 1) moves.push_back({it->first, State::incoming, State::outgoing, {}});
    ++it;
  }
  for (const Result<ObjectRecord>& m : spool_->move_batch(moves)) ASSERT_TRUE(m.ok());
  for (const Spool::Move& m : moves) {
    model[m.id].state = State::outgoing;
    model[m.id].revision = 2;
  }
  const std::size_t spares = names(tmp_dir()).size();
  ASSERT_GT(spares, 0u) << "precondition: forget and move_batch left recycled files in tmp/";

  reopen();
  RecoveryReport report = recover();
  EXPECT_EQ(report.tmp_removed, spares);
  EXPECT_EQ(report.uncommitted_removed + report.stale_removed + report.moves_finished + report.records_without_data +
                report.unreadable,
            0u);
  EXPECT_THAT(names(tmp_dir()), IsEmpty());
  expect_spool_holds(model);

  // And the spool goes on working after it.
  create_all({{draft("after/1"), State::incoming, "after the restart", true},
              {draft("after/2"), State::received, random_bytes(rng, 70000), false}},
             model);
  expect_spool_holds(model);
}

// Disabled: they fail against the current spool (a batch does not notice an
// id it holds twice). One id twice in a batch is refused or committed once,
// and the spool holds what the result that succeeded says.
TEST_F(BatchTest, OneIdTwiceInACreateBatchIsCommittedAtMostOnceAsReported) {
  ObjectRecord first = draft("first.txt");
  ObjectRecord second = draft("second.txt");
  second.id = first.id;
  auto created = create_batch({{first, State::incoming, "first", false}, {second, State::outgoing, "second!", false}});
  ASSERT_EQ(created.size(), 2u);
  EXPECT_FALSE(created[0].ok() && created[1].ok());
  Model model;
  if (created[0].ok()) model[first.id] = Held{State::incoming, "first", 1};
  if (created[1].ok()) model[first.id] = Held{State::outgoing, "second!", 1};
  expect_spool_holds(model);
}

TEST_F(BatchTest, OneObjectTwiceInAMoveBatchEndsWhereTheSuccessfulMoveSays) {
  const ObjectRecord r = create_one("m.txt", "bytes");
  auto moved = spool_->move_batch(
      {{r.id, State::incoming, State::outgoing, {}}, {r.id, State::incoming, State::quarantine, {}}});
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_FALSE(moved[0].ok() && moved[1].ok());
  Model model;
  for (const Result<ObjectRecord>& m : moved) {
    if (m.ok()) model[r.id] = Held{m->state, "bytes", 2};
  }
  expect_spool_holds(model);
}

// The daemon ingests on one thread while its loop moves and forgets other
// objects on another (spool.h): recycled files pass between the two.
TEST_F(BatchTest, IngestAndTheLoopOnTwoThreadsKeepEveryObjectsBytes) {
  std::mutex mutex;
  Model model;                  // guarded by mutex
  std::deque<ObjectId> handed;  // created, not yet seen by the loop; guarded by mutex
  bool ingest_finished = false;  // guarded by mutex
  std::atomic<int> failures = 0;

  std::thread ingest([&] {
    std::mt19937_64 rng(17);
    for (int round = 0; round < 40; ++round) {
      std::vector<std::string> bytes;
      std::vector<Spool::NewObject> objects;
      const std::size_t n = 1 + rng() % 10;
      bytes.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        bytes.push_back(random_bytes(rng, object_size(rng)));
        Spool::NewObject o;
        o.record = draft("ingest/" + std::to_string(round) + "/" + std::to_string(i));
        o.bytes = crypto::as_bytes(bytes.back());
        objects.push_back(std::move(o));
      }
      std::vector<Result<ObjectRecord>> created = spool_->create_batch(objects);
      std::lock_guard<std::mutex> lock(mutex);
      for (std::size_t i = 0; i < n; ++i) {
        if (!created[i].ok()) {
          ++failures;
          continue;
        }
        model[created[i]->id] = Held{State::incoming, bytes[i], 1};
        handed.push_back(created[i]->id);
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    ingest_finished = true;
  });

  std::mt19937_64 rng(18);
  std::vector<ObjectId> sent;  // in outgoing, to be forgotten as the peer acknowledges
  for (;;) {
    std::vector<Spool::Move> moves;
    bool finished = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (; !handed.empty(); handed.pop_front()) {
        moves.push_back({handed.front(), State::incoming, State::outgoing, [](ObjectRecord& r) { r.verdict = "accepted"; }});
      }
      finished = ingest_finished;
    }
    if (moves.empty() && sent.empty()) {
      if (finished) break;
      std::this_thread::yield();
      continue;
    }
    std::vector<Result<ObjectRecord>> moved = spool_->move_batch(moves);
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (std::size_t i = 0; i < moves.size(); ++i) {
        if (!moved[i].ok()) {
          ++failures;
          continue;
        }
        model[moves[i].id].state = State::outgoing;
        model[moves[i].id].revision = 2;
        sent.push_back(moves[i].id);
      }
    }
    for (auto it = sent.begin(); it != sent.end();) {
      if (rng() % 2 == 0) {
        ++it;
        continue;
      }
      if (!spool_->forget(*it, State::outgoing).ok()) ++failures;
      std::lock_guard<std::mutex> lock(mutex);
      model.erase(*it);
      it = sent.erase(it);
    }
    if (finished && moves.empty()) break;
  }
  ingest.join();
  EXPECT_EQ(failures.load(), 0);
  expect_spool_holds(model);
  reopen();
  recover();
  expect_spool_holds(model);
}

// ---------------------------------------------------------------------------
// Partial objects hashed as they arrive

class PartialHashTest : public BatchTest {
 protected:
  static constexpr std::size_t kChunk = 64 * 1024;

  ObjectRecord transfer(const std::string& content) {
    ObjectRecord r = draft("dir/收到的文件.bin", "release-out");
    r.size = content.size();
    r.peer_serial = 3;
    r.verdict = "receiving";
    return r;
  }

  // Chunks [from, to) of `content`, in order.
  void send(const ObjectId& id, const std::string& content, std::size_t from, std::size_t to) {
    for (std::size_t at = from; at < to; at += kChunk) {
      const std::string_view chunk = std::string_view(content).substr(at, std::min(kChunk, to - at));
      ASSERT_TRUE(spool_->write_partial(id, at, crypto::as_bytes(chunk)).ok()) << "at " << at;
    }
  }

  void expect_received(const ObjectId& id, const std::string& bytes) {
    EXPECT_EQ(*spool_->find(id), State::received);
    EXPECT_TRUE(read_file(spool_->data_path(id, State::received)) == bytes) << "received other bytes";
  }
};

TEST_F(PartialHashTest, ARetransmittedChunkWithTheSameBytesCompletesAgainstTheSenderDigest) {
  std::mt19937_64 rng(9);
  const std::string content = random_bytes(rng, 1536 * 1024 + 123);
  const ObjectRecord r = transfer(content);
  ASSERT_EQ(test::must(spool_->open_partial(r)), 0u);
  send(r.id, content, 0, content.size());
  const std::size_t middle = 10 * kChunk;
  ASSERT_TRUE(spool_->write_partial(r.id, middle, crypto::as_bytes(std::string_view(content).substr(middle, kChunk))).ok());
  auto done = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->sm3, sm3_of(content));
  EXPECT_EQ(done->size, content.size());
  expect_received(r.id, content);
}

TEST_F(PartialHashTest, AChunkRewrittenWithOtherBytesCompletesOnlyAgainstTheBytesNowInTheFile) {
  std::mt19937_64 rng(10);
  const std::string content = random_bytes(rng, 20 * kChunk + 5);
  const ObjectRecord r = transfer(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  send(r.id, content, 0, content.size());
  const std::size_t middle = 7 * kChunk + 100;
  const std::string other = random_bytes(rng, 5000);
  ASSERT_TRUE(spool_->write_partial(r.id, middle, crypto::as_bytes(other)).ok());
  std::string now_in_file = content;
  now_in_file.replace(middle, other.size(), other);

  auto stale = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, crypto::Errc::verify_failed);
  EXPECT_EQ(*spool_->find(r.id), State::partial);
  auto done = spool_->complete_partial(r.id, content.size(), sm3_of(now_in_file));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->sm3, sm3_of(now_in_file));
  expect_received(r.id, now_in_file);
}

TEST_F(PartialHashTest, AChunkRewrittenWithOtherBytesAndThenTheRightOnesCompletes) {
  std::mt19937_64 rng(11);
  const std::string content = random_bytes(rng, 12 * kChunk);
  const ObjectRecord r = transfer(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  send(r.id, content, 0, 6 * kChunk);
  ASSERT_TRUE(spool_->write_partial(r.id, 2 * kChunk, crypto::as_bytes(random_bytes(rng, kChunk))).ok());
  send(r.id, content, 2 * kChunk, 3 * kChunk);  // the retransmission repairs it
  send(r.id, content, 6 * kChunk, content.size());
  auto done = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_TRUE(done.ok()) << done.error().message;
  expect_received(r.id, content);
}

// A sender that lost its place backs up and sends a chunk that overlaps the
// end of what is there.
TEST_F(PartialHashTest, AChunkOverlappingTheEndOfWhatIsThereCompletes) {
  std::mt19937_64 rng(19);
  const std::string content = random_bytes(rng, 5 * kChunk + 1);
  const ObjectRecord r = transfer(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  send(r.id, content, 0, 2 * kChunk);
  const std::size_t back = 2 * kChunk - 1000;
  ASSERT_TRUE(spool_->write_partial(r.id, back, crypto::as_bytes(std::string_view(content).substr(back, kChunk))).ok());
  ASSERT_EQ(test::must(spool_->partial_size(r.id)), back + kChunk);
  send(r.id, content, back + kChunk, content.size());
  auto done = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_TRUE(done.ok()) << done.error().message;
  expect_received(r.id, content);
}

TEST_F(PartialHashTest, ACompletionRefusedForAWrongDigestCanBeRetriedWithTheRightOne) {
  std::mt19937_64 rng(12);
  const std::string content = random_bytes(rng, 3 * kChunk + 17);
  const ObjectRecord r = transfer(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  send(r.id, content, 0, content.size());
  auto wrong = spool_->complete_partial(r.id, content.size(), sm3_of("something else"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, crypto::Errc::verify_failed);
  auto right = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_TRUE(right.ok()) << right.error().message;
  expect_received(r.id, content);
}

TEST_F(PartialHashTest, AfterARestartTheTransferResumesAndCompletesAgainstTheWholeObject) {
  std::mt19937_64 rng(13);
  const std::string content = random_bytes(rng, 2 * 1024 * 1024 + 999);
  const ObjectRecord r = transfer(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  const std::size_t before = 19 * kChunk;  // more than one read of the resumed prefix
  send(r.id, content, 0, before);
  ASSERT_EQ(test::must(spool_->partial_size(r.id)), before);

  reopen();
  recover();
  auto resume = spool_->open_partial(r);
  ASSERT_TRUE(resume.ok()) << resume.error().message;
  ASSERT_EQ(*resume, before);
  send(r.id, content, before, content.size());
  auto done = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->peer_serial, 3u);
  expect_received(r.id, content);
}

TEST_F(PartialHashTest, AfterARestartTheResumedPrefixIsWhatTheFileHolds) {
  std::mt19937_64 rng(14);
  const std::string content = random_bytes(rng, 8 * kChunk);
  const ObjectRecord r = transfer(content);
  ASSERT_TRUE(spool_->open_partial(r).ok());
  send(r.id, content, 0, 4 * kChunk);
  const std::string other = random_bytes(rng, 300);
  ASSERT_TRUE(spool_->write_partial(r.id, kChunk, crypto::as_bytes(other)).ok());
  std::string now_in_file = content;
  now_in_file.replace(kChunk, other.size(), other);

  reopen();
  recover();
  ASSERT_EQ(test::must(spool_->open_partial(r)), 4 * kChunk);
  // The sender backs up one chunk, then goes on.
  send(r.id, content, 3 * kChunk, content.size());
  auto stale = spool_->complete_partial(r.id, content.size(), sm3_of(content));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, crypto::Errc::verify_failed);
  auto done = spool_->complete_partial(r.id, content.size(), sm3_of(now_in_file));
  ASSERT_TRUE(done.ok()) << done.error().message;
  expect_received(r.id, now_in_file);
}

// ---------------------------------------------------------------------------
// take_batch

class TakeBatchTest : public BatchTest {
 protected:
  void SetUp() override {
    BatchTest::SetUp();
    ::mkdir(src().c_str(), 0755);
  }
  std::string src() const { return tree_.path("src"); }
  std::string src(const std::string& rel) const { return src() + "/" + rel; }

  std::vector<Candidate> candidates(SourceScanner& scanner) {
    auto c = scanner.scan(1'000'000);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? *c : std::vector<Candidate>{};
  }

  // Claim directories below the source, as relative paths.
  std::vector<std::string> claim_dirs() const {
    std::vector<std::string> out;
    for (const auto& e : stdfs::recursive_directory_iterator(src())) {
      if (e.is_directory() && e.path().filename().string().starts_with(kClaimPrefix)) {
        out.push_back(stdfs::relative(e.path(), src()).string());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Inodes of the claim directories directly in `rel` ("" for the top).
  std::set<ino_t> claim_inodes(const std::string& rel) const {
    std::set<ino_t> out;
    const std::string parent = rel.empty() ? src() : src(rel);
    for (const std::string& name : names(parent)) {
      if (name.starts_with(kClaimPrefix)) out.insert(inode_of(parent + "/" + name));
    }
    return out;
  }

  void expect_claim_dirs_empty() const {
    for (const std::string& c : claim_dirs()) EXPECT_THAT(names(src(c)), IsEmpty()) << c;
  }

  std::vector<ObjectRecord> all_objects() {
    std::vector<ObjectRecord> out;
    for (State s : kAllStates) {
      std::vector<ObjectRecord> l = test::must(spool_->list(s));
      out.insert(out.end(), l.begin(), l.end());
    }
    return out;
  }
};

TEST_F(TakeBatchTest, EveryFileIsTakenOnceAndClassifySendsSomeOnward) {
  std::mt19937_64 rng(15);
  std::map<std::string, std::string> files;
  for (int i = 0; i < 10; ++i) files["f" + std::to_string(i) + ".txt"] = random_bytes(rng, object_size(rng));
  for (int i = 0; i < 5; ++i) files["clean/doc " + std::to_string(i) + ".pdf"] = random_bytes(rng, object_size(rng));
  files["sub/deeper/data.csv"] = "a,b\n1,2\n";
  files["中文 目录/第一季度 报告.docx"] = "季度数据";
  files["blocked.exe"] = "MZ\x90";
  files["bad\tname.txt"] = "a tab in the name";
  for (const auto& [rel, bytes] : files) write_file(src(rel), bytes);

  SourceScanner scanner("docs-in", src(), milliseconds(0));
  const std::vector<Candidate> c = candidates(scanner);
  ASSERT_EQ(c.size(), files.size());
  std::map<std::string, std::uint64_t> classified;  // path -> size the classifier saw
  auto classify = [&](ObjectRecord& r, State& state) {
    classified[r.path] = r.size;
    EXPECT_EQ(state, State::incoming);
    if (r.path.starts_with("clean/")) {
      state = State::outgoing;
      r.verdict = "accepted";
    } else if (r.path == "blocked.exe") {
      state = State::quarantine;
      r.verdict = "rejected";
      r.reasons.push_back({"type.blocked", "executables do not cross"});
    }
  };
  std::vector<Result<ObjectRecord>> taken = scanner.take_batch(c, *spool_, classify);
  ASSERT_EQ(taken.size(), c.size());

  std::map<std::string, ObjectRecord> by_path;
  for (std::size_t i = 0; i < taken.size(); ++i) {
    ASSERT_TRUE(taken[i].ok()) << c[i].relative_path << ": " << taken[i].error().message;
    EXPECT_EQ(taken[i]->path, c[i].relative_path);
    EXPECT_TRUE(by_path.emplace(taken[i]->path, *taken[i]).second) << "taken twice: " << taken[i]->path;
  }
  std::vector<ObjectRecord> all = all_objects();
  EXPECT_EQ(all.size(), files.size());
  for (const ObjectRecord& r : all) {
    SCOPED_TRACE(r.path);
    ASSERT_EQ(files.count(r.path), 1u);
    const std::string& bytes = files[r.path];
    EXPECT_TRUE(read_file(spool_->data_path(r.id, r.state)) == bytes);
    EXPECT_EQ(r.sm3, sm3_of(bytes));
    EXPECT_EQ(r.size, bytes.size());
    EXPECT_EQ(r, by_path.at(r.path));
    if (r.path.starts_with("clean/")) {
      EXPECT_EQ(r.state, State::outgoing);
      EXPECT_EQ(r.verdict, "accepted");
    } else if (r.path == "blocked.exe") {
      EXPECT_EQ(r.state, State::quarantine);
      EXPECT_THAT(r.reasons, ElementsAre(Reason{"type.blocked", "executables do not cross"}));
    } else if (r.path == "bad\tname.txt") {
      EXPECT_EQ(r.state, State::quarantine);
      ASSERT_EQ(r.reasons.size(), 1u);
      EXPECT_EQ(r.reasons[0].code, "name.invalid");
    } else {
      EXPECT_EQ(r.state, State::incoming);
      EXPECT_EQ(r.verdict, "ingested");
    }
  }
  // The classifier saw every well-named file with its settled size, and not
  // the one the name rule had already quarantined.
  EXPECT_EQ(classified.size(), files.size() - 1);
  EXPECT_EQ(classified.count("bad\tname.txt"), 0u);
  for (const auto& [path, size] : classified) EXPECT_EQ(size, files[path].size()) << path;

  EXPECT_THAT(names(src(), true), IsEmpty());  // no source file left
  EXPECT_THAT(test::must(scanner.scan(2'000'000)), IsEmpty());
  expect_claim_dirs_empty();
  scanner.tidy();
  EXPECT_THAT(claim_dirs(), IsEmpty());
  EXPECT_THAT(names(src("中文 目录")), IsEmpty());
}

TEST_F(TakeBatchTest, AFileChangedSinceItSettledIsGivenBackAndTheRestAreTaken) {
  for (int i = 0; i < 5; ++i) write_file(src("sub/f" + std::to_string(i)), "file " + std::to_string(i));
  SourceScanner scanner("docs-in", src(), milliseconds(0));
  const std::vector<Candidate> c = candidates(scanner);
  ASSERT_EQ(c.size(), 5u);
  write_file(src("sub/f2"), "file 2, still being written");
  std::vector<Result<ObjectRecord>> taken = scanner.take_batch(c, *spool_);
  for (std::size_t i = 0; i < taken.size(); ++i) {
    if (c[i].relative_path == "sub/f2") {
      ASSERT_FALSE(taken[i].ok());
      EXPECT_THAT(taken[i].error().message, HasSubstr("changed since it settled"));
    } else {
      ASSERT_TRUE(taken[i].ok()) << taken[i].error().message;
      EXPECT_EQ(read_file(spool_->data_path(taken[i]->id, State::incoming)), "file " + c[i].relative_path.substr(5));
    }
  }
  EXPECT_THAT(names(src(), true), ElementsAre("sub/f2"));
  EXPECT_EQ(read_file(src("sub/f2")), "file 2, still being written");
  EXPECT_EQ(all_objects().size(), 4u);
  expect_claim_dirs_empty();
  scanner.tidy();
  EXPECT_THAT(claim_dirs(), IsEmpty());
  // Settled again, it is taken by the next batch.
  std::vector<Candidate> again = candidates(scanner);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(scanner.take_batch(again, *spool_)[0].ok());
  EXPECT_EQ(all_objects().size(), 5u);
  EXPECT_THAT(names(src(), true), IsEmpty());
}

TEST_F(TakeBatchTest, ClaimDirectoriesOfOneBatchAreReusedByTheNext) {
  SourceScanner scanner("docs-in", src(), milliseconds(0));
  std::size_t expected_objects = 0;
  auto take_new_files = [&](const std::string& batch, int top, int in_sub) {
    for (int i = 0; i < top; ++i) write_file(src(batch + "-" + std::to_string(i)), batch + " top " + std::to_string(i));
    for (int i = 0; i < in_sub; ++i) write_file(src("sub/" + batch + "-" + std::to_string(i)), batch + " sub");
    const std::vector<Candidate> c = candidates(scanner);
    ASSERT_EQ(c.size(), static_cast<std::size_t>(top + in_sub));
    for (const Result<ObjectRecord>& r : scanner.take_batch(c, *spool_)) {
      ASSERT_TRUE(r.ok()) << r.error().message;
    }
    expected_objects += c.size();
    EXPECT_THAT(names(src(), true), IsEmpty());
    EXPECT_EQ(all_objects().size(), expected_objects);
    expect_claim_dirs_empty();
  };

  take_new_files("one", 8, 4);
  const std::set<ino_t> top_after_one = claim_inodes("");
  const std::set<ino_t> sub_after_one = claim_inodes("sub");
  EXPECT_EQ(top_after_one.size(), 8u);
  EXPECT_EQ(sub_after_one.size(), 4u);

  take_new_files("two", 5, 4);
  EXPECT_EQ(claim_inodes(""), top_after_one);  // reused, none added
  EXPECT_EQ(claim_inodes("sub"), sub_after_one);

  take_new_files("three", 10, 0);
  const std::set<ino_t> top_after_three = claim_inodes("");
  EXPECT_EQ(top_after_three.size(), 10u);
  EXPECT_TRUE(std::includes(top_after_three.begin(), top_after_three.end(), top_after_one.begin(),
                            top_after_one.end()));
  EXPECT_EQ(claim_inodes("sub"), sub_after_one);

  scanner.tidy();
  EXPECT_THAT(claim_dirs(), IsEmpty());
  // A batch after tidy() makes its claims afresh and still takes every file.
  take_new_files("four", 2, 1);
  scanner.tidy();
  EXPECT_THAT(claim_dirs(), IsEmpty());
}

TEST_F(TakeBatchTest, RecoverClaimsRemovesTheEmptyClaimDirectoriesABatchLeftBehind) {
  for (int i = 0; i < 3; ++i) write_file(src("top-" + std::to_string(i)), "top");
  for (int i = 0; i < 3; ++i) write_file(src("子目录/文件-" + std::to_string(i)), "sub");
  {
    SourceScanner scanner("docs-in", src(), milliseconds(0));
    for (const Result<ObjectRecord>& r : scanner.take_batch(candidates(scanner), *spool_)) ASSERT_TRUE(r.ok());
    // Stopped before it could tidy up.
  }
  ASSERT_EQ(claim_dirs().size(), 6u) << "precondition: the batch kept its claim directories";
  reopen();
  recover();
  SourceScanner scanner("docs-in", src(), milliseconds(0));
  auto recovered = scanner.recover_claims(*spool_);
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(recovered->empty_removed, 6u);
  EXPECT_EQ(recovered->released + recovered->retaken + recovered->returned + recovered->left, 0u);
  EXPECT_THAT(claim_dirs(), IsEmpty());
  EXPECT_EQ(all_objects().size(), 6u);
  EXPECT_THAT(test::must(scanner.scan(0)), IsEmpty());
}

// ---------------------------------------------------------------------------
// deliver_batch

class DeliverBatchTest : public BatchTest {
 protected:
  void SetUp() override {
    BatchTest::SetUp();
    ::mkdir(out().c_str(), 0755);
  }
  std::string out() const { return tree_.path("deliver"); }
  std::string out(const std::string& rel) const { return out() + "/" + rel; }

  // An object in received, as the receiving side commits it.
  ObjectRecord receive(const std::string& path, const std::string& bytes) {
    ObjectRecord r = draft(path, "docs-in");
    r.verdict = "received";
    auto created = create_batch({{r, State::received, bytes, false}});
    if (!created[0].ok()) throw std::runtime_error(created[0].error().message);
    return *created[0];
  }
};

TEST_F(DeliverBatchTest, ManyObjectsArriveUnderTheirNamesAndLeaveTheSpool) {
  std::mt19937_64 rng(16);
  const std::string second_dir = tree_.path("deliver-2");
  ::mkdir(second_dir.c_str(), 0755);
  std::map<std::string, std::string> want;         // delivered name -> bytes, first deliver directory
  std::map<std::string, std::string> want_second;  // the same for the second
  std::vector<DeliveryRequest> requests;
  for (int i = 0; i < 24; ++i) {
    const std::string path = "批次/子目录 " + std::to_string(i % 3) + "/文件 " + std::to_string(i) + ".txt";
    const std::string bytes = random_bytes(rng, object_size(rng));
    const ObjectRecord r = receive(path, bytes);
    const bool second = i % 5 == 4;
    (second ? want_second : want)[path] = bytes;
    requests.push_back({r.id, second ? second_dir : out(), i % 2 == 0});
  }
  mode_t old_umask = ::umask(077);
  std::vector<Result<Delivery>> delivered = deliver_batch(*spool_, requests);
  ::umask(old_umask);
  ASSERT_EQ(delivered.size(), requests.size());
  for (std::size_t i = 0; i < delivered.size(); ++i) {
    ASSERT_TRUE(delivered[i].ok()) << delivered[i].error().message;
    EXPECT_FALSE(delivered[i]->suffixed);
    EXPECT_FALSE(delivered[i]->already_delivered);
    EXPECT_EQ(delivered[i]->path, requests[i].deliver_dir + "/" + delivered[i]->name);
    EXPECT_EQ(*spool_->find(requests[i].id), std::nullopt) << "still in the spool";
    struct stat st;
    ASSERT_EQ(::stat(delivered[i]->path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, kDeliveredFileMode);
  }
  std::map<std::string, std::string> got;
  for (const std::string& name : names(out(), true)) got[name] = read_file(out(name));
  EXPECT_TRUE(got == want) << got.size() << " files delivered, " << want.size() << " expected";
  std::map<std::string, std::string> got_second;
  for (const std::string& name : names(second_dir, true)) got_second[name] = read_file(second_dir + "/" + name);
  EXPECT_TRUE(got_second == want_second) << got_second.size() << " files delivered, " << want_second.size() << " expected";
  for (State s : kAllStates) EXPECT_THAT(test::must(spool_->list(s)), IsEmpty()) << state_name(s);
}

TEST_F(DeliverBatchTest, TwoObjectsWithOneNameInABatchGetTwoNamesAndAFileAlreadyThereIsKept) {
  const ObjectRecord a = receive("docs/report.pdf", "first report");
  const ObjectRecord b = receive("docs/report.pdf", "second report");
  write_file(out("taken.txt"), "a user's file");
  const ObjectRecord c = receive("taken.txt", "ours");
  const ObjectRecord d = receive("taken.txt", "ours too");
  std::vector<Result<Delivery>> delivered =
      deliver_batch(*spool_, {{a.id, out(), true}, {b.id, out(), false}, {c.id, out(), true}, {d.id, out(), true}});
  ASSERT_EQ(delivered.size(), 4u);
  for (const auto& x : delivered) ASSERT_TRUE(x.ok()) << x.error().message;

  EXPECT_EQ(delivered[0]->name, "docs/report.pdf");
  EXPECT_FALSE(delivered[0]->suffixed);
  EXPECT_EQ(delivered[1]->name, "docs/report~" + b.id.hex().substr(0, 8) + ".pdf");
  EXPECT_TRUE(delivered[1]->suffixed);
  EXPECT_EQ(read_file(delivered[0]->path), "first report");
  EXPECT_EQ(read_file(delivered[1]->path), "second report");

  EXPECT_EQ(delivered[2]->name, "taken~" + c.id.hex().substr(0, 8) + ".txt");
  EXPECT_EQ(delivered[3]->name, "taken~" + d.id.hex().substr(0, 8) + ".txt");
  EXPECT_EQ(read_file(delivered[2]->path), "ours");
  EXPECT_EQ(read_file(delivered[3]->path), "ours too");
  EXPECT_EQ(read_file(out("taken.txt")), "a user's file");
  EXPECT_EQ(names(out(), true).size(), 5u);
}

TEST_F(DeliverBatchTest, WhenEveryNameIsTakenThatObjectFailsAloneAndNothingIsReplaced) {
  const ObjectRecord blocked = receive("x.txt", "ours");
  const ObjectRecord fine = receive("y.txt", "fine");
  for (std::size_t digits : {0u, 8u, 16u, 32u}) {
    write_file(out(digits == 0 ? "x.txt" : suffixed_name("x.txt", blocked.id, digits)), "theirs");
  }
  std::vector<Result<Delivery>> delivered = deliver_batch(*spool_, {{blocked.id, out(), true}, {fine.id, out(), true}});
  ASSERT_FALSE(delivered[0].ok());
  EXPECT_EQ(delivered[0].error().code, crypto::Errc::exhausted);
  ASSERT_TRUE(delivered[1].ok()) << delivered[1].error().message;
  EXPECT_EQ(read_file(out("y.txt")), "fine");
  for (const std::string& name : names(out(), true)) {
    if (name != "y.txt") {
      EXPECT_EQ(read_file(out(name)), "theirs") << name;
    }
  }
  EXPECT_EQ(*spool_->find(blocked.id), State::received);
}

// The state a crash right after deliver_batch may leave: the file in place,
// and the object's removal from received/ not yet on disk. Made here from a
// real delivery, by keeping a link to the data and a copy of the record.
TEST_F(DeliverBatchTest, AnObjectWhoseRemovalACrashUndidIsFoundByItsLinkAndNotDeliveredTwice) {
  const ObjectRecord r = receive("年报/2024 年报.pdf", "annual report");
  const std::string record_text = read_file(spool_->record_path(r.id, State::received));
  const std::string kept = tree_.path("kept-data");
  ASSERT_EQ(::link(spool_->data_path(r.id, State::received).c_str(), kept.c_str()), 0);
  auto first = deliver_batch(*spool_, {{r.id, out(), true}});
  ASSERT_TRUE(first[0].ok()) << first[0].error().message;
  EXPECT_FALSE(first[0]->already_delivered);
  ASSERT_EQ(*spool_->find(r.id), std::nullopt);

  ASSERT_EQ(::rename(kept.c_str(), spool_->data_path(r.id, State::received).c_str()), 0);
  write_file(spool_->record_path(r.id, State::received), record_text);
  reopen();
  recover();
  ASSERT_EQ(*spool_->find(r.id), State::received);

  auto again = deliver_batch(*spool_, {{r.id, out(), false}});
  ASSERT_TRUE(again[0].ok()) << again[0].error().message;
  EXPECT_TRUE(again[0]->already_delivered);
  EXPECT_FALSE(again[0]->suffixed);
  EXPECT_EQ(again[0]->name, "年报/2024 年报.pdf");
  EXPECT_THAT(names(out(), true), ElementsAre("年报/2024 年报.pdf"));
  EXPECT_EQ(read_file(out("年报/2024 年报.pdf")), "annual report");
  EXPECT_EQ(*spool_->find(r.id), std::nullopt);

  // Its data file is the delivered file: later objects never reuse it.
  for (int i = 0; i < 4; ++i) receive("later/" + std::to_string(i), std::string(static_cast<std::size_t>(i) * 7, 'z'));
  EXPECT_EQ(read_file(out("年报/2024 年报.pdf")), "annual report");
}

TEST_F(DeliverBatchTest, AnObjectAlreadyLinkedUnderItsSuffixedNameIsRecognised) {
  write_file(out("report.pdf"), "someone else's");
  const ObjectRecord r = receive("report.pdf", "ours");
  const std::string suffixed = suffixed_name("report.pdf", r.id, 8);
  ASSERT_EQ(::link(spool_->data_path(r.id, State::received).c_str(), out(suffixed).c_str()), 0);
  auto d = deliver_batch(*spool_, {{r.id, out(), false}});
  ASSERT_TRUE(d[0].ok()) << d[0].error().message;
  EXPECT_TRUE(d[0]->already_delivered);
  EXPECT_TRUE(d[0]->suffixed);
  EXPECT_EQ(d[0]->name, suffixed);
  EXPECT_THAT(names(out(), true), ElementsAre("report.pdf", suffixed));
  EXPECT_EQ(read_file(out("report.pdf")), "someone else's");
  EXPECT_EQ(read_file(out(suffixed)), "ours");
  EXPECT_EQ(*spool_->find(r.id), std::nullopt);
}

// A deliver directory on another file system than the spool: no hard link
// is possible, the bytes are copied.
// A directory on another file system than the spool: /dev/shm where it is
// one, else a tmpfs the test mounts itself (CI runs as root). Without either
// the test fails and says so: the copy path must not go untested silently.
class OtherFileSystem {
 public:
  explicit OtherFileSystem(const std::string& spool_dir) {
    struct stat spool, here;
    if (::stat(spool_dir.c_str(), &spool) != 0) return;
    std::string shm = "/dev/shm/ferry-deliver-test-XXXXXX";
    if (::mkdtemp(shm.data()) != nullptr) {
      if (::stat(shm.c_str(), &here) == 0 && here.st_dev != spool.st_dev) {
        dir_ = shm;
        return;
      }
      ::rmdir(shm.c_str());
    }
    std::string mnt = (stdfs::temp_directory_path() / "ferry-deliver-mnt-XXXXXX").string();
    if (::mkdtemp(mnt.data()) == nullptr) return;
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=16m,mode=0755") != 0) {
      why_ = std::string("mount tmpfs: ") + std::strerror(errno);
      ::rmdir(mnt.c_str());
      return;
    }
    dir_ = mnt;
    mounted_ = true;
  }
  ~OtherFileSystem() {
    if (dir_.empty()) return;
    std::error_code ec;
    if (mounted_) {
      ::umount2(dir_.c_str(), MNT_DETACH);
    } else {
      for (const auto& e : stdfs::directory_iterator(dir_, ec)) stdfs::remove_all(e.path(), ec);
    }
    ::rmdir(dir_.c_str());
  }
  const std::string& dir() const { return dir_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_, why_;
  bool mounted_ = false;
};

TEST_F(DeliverBatchTest, ToAnotherFileSystemTheObjectsAreCopied) {
  OtherFileSystem fs(dir());
  ASSERT_FALSE(fs.dir().empty()) << "needs a second file system: /dev/shm on another device, or root to mount a tmpfs ("
                                 << fs.why() << ")";
  const std::string& other = fs.dir();

  const ObjectRecord x = receive("a/x.txt", "x bytes");
  const ObjectRecord y = receive("a/x.txt", "y bytes");
  std::vector<Result<Delivery>> delivered = deliver_batch(*spool_, {{x.id, other, true}, {y.id, other, false}});
  ASSERT_TRUE(delivered[0].ok()) << delivered[0].error().message;
  ASSERT_TRUE(delivered[1].ok()) << delivered[1].error().message;
  EXPECT_EQ(delivered[0]->name, "a/x.txt");
  EXPECT_EQ(delivered[1]->name, "a/" + suffixed_name("x.txt", y.id, 8));
  EXPECT_EQ(read_file(other + "/a/x.txt"), "x bytes");
  EXPECT_EQ(read_file(delivered[1]->path), "y bytes");
  EXPECT_EQ(names(other, true).size(), 2u);
  EXPECT_EQ(*spool_->find(x.id), std::nullopt);
  EXPECT_EQ(*spool_->find(y.id), std::nullopt);
  // The spool's copies were its own: reusing them changes nothing delivered.
  for (int i = 0; i < 4; ++i) receive("later/" + std::to_string(i), std::string(static_cast<std::size_t>(i) * 3, 'q'));
  EXPECT_EQ(read_file(other + "/a/x.txt"), "x bytes");
  EXPECT_EQ(read_file(delivered[1]->path), "y bytes");
}

TEST_F(DeliverBatchTest, AHostilePathFailsAloneAsAnInvalidName) {
  const ObjectRecord good = receive("good.txt", "good");
  const ObjectRecord bad = receive("../escape.txt", "escape attempt");
  const ObjectRecord also_good = receive("sub/also good.txt", "also good");
  std::vector<Result<Delivery>> delivered =
      deliver_batch(*spool_, {{good.id, out(), true}, {bad.id, out(), true}, {also_good.id, out(), true}});
  ASSERT_TRUE(delivered[0].ok()) << delivered[0].error().message;
  ASSERT_FALSE(delivered[1].ok());
  EXPECT_EQ(delivered[1].error().code, crypto::Errc::invalid_argument);
  EXPECT_THAT(delivered[1].error().message, StartsWith("name.invalid: "));
  ASSERT_TRUE(delivered[2].ok()) << delivered[2].error().message;
  EXPECT_THAT(names(out(), true), ElementsAre("good.txt", "sub/also good.txt"));
  EXPECT_FALSE(exists(tree_.path("escape.txt")));
  EXPECT_EQ(*spool_->find(bad.id), State::received);
}

TEST_F(DeliverBatchTest, DataChangedInTheSpoolIsNotDeliveredWhenItIsCheckedAgain) {
  const ObjectRecord tampered = receive("x.txt", "original bytes");
  const ObjectRecord fine = receive("y.txt", "fine bytes");
  overwrite_in_place(spool_->data_path(tampered.id, State::received), 0, "tampered");
  std::vector<Result<Delivery>> delivered =
      deliver_batch(*spool_, {{tampered.id, out(), false}, {fine.id, out(), false}});
  ASSERT_FALSE(delivered[0].ok());
  EXPECT_EQ(delivered[0].error().code, crypto::Errc::verify_failed);
  ASSERT_TRUE(delivered[1].ok()) << delivered[1].error().message;
  EXPECT_THAT(names(out(), true), ElementsAre("y.txt"));  // nothing of x.txt, not even a hidden temp
  EXPECT_EQ(*spool_->find(tampered.id), State::received);
  EXPECT_EQ(links_of(spool_->data_path(tampered.id, State::received)), 1u);
}

}  // namespace
}  // namespace ferry::spool

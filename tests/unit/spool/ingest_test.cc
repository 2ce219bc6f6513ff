// Ingest from a source directory: settle detection, what is skipped, the
// name rule, the exactly-once claim at each crash point (by hand and by
// kill -9), and inotify on a growing tree.
#include "ferry/spool/source_scanner.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/spool/inotify_watch.h"
#include "tests/unit/spool/temp_tree.h"

namespace ferry::spool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using std::chrono::milliseconds;
using test::exists;
using test::names;
using test::read_file;
using test::sm3_of;
using test::write_file;

std::vector<std::string> paths_of(const std::vector<Candidate>& c) {
  std::vector<std::string> out;
  for (const auto& x : c) out.push_back(x.relative_path);
  return out;
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir(src().c_str(), 0755);
    open_spool();
  }
  void open_spool() {
    spool_.reset();
    auto s = Spool::open(tree_.path("spool"));
    ASSERT_TRUE(s.ok()) << s.error().message;
    spool_.emplace(std::move(*s));
  }
  std::string src() const { return tree_.path("src"); }
  std::string src(const std::string& rel) const { return src() + "/" + rel; }

  // Everything in the spool, by state.
  std::vector<ObjectRecord> all_objects() {
    std::vector<ObjectRecord> out;
    for (State s : kAllStates) {
      auto l = spool_->list(s);
      EXPECT_TRUE(l.ok());
      out.insert(out.end(), l->begin(), l->end());
    }
    return out;
  }

  std::vector<Candidate> settled(SourceScanner& scanner) {
    auto first = scanner.scan(0);
    EXPECT_TRUE(first.ok());
    auto c = scanner.scan(1'000'000);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? *c : std::vector<Candidate>{};
  }

  test::TempTree tree_;
  std::optional<Spool> spool_;
};

TEST_F(IngestTest, AFileIsACandidateOnlyAfterItHasSettled) {
  SourceScanner scanner("docs-in", src(), milliseconds(1000));
  write_file(src("a.txt"), "complete");
  write_file(src("growing.bin"), "part one");
  EXPECT_THAT(*scanner.scan(10'000), IsEmpty());
  EXPECT_THAT(*scanner.scan(10'999), IsEmpty());
  write_file(src("growing.bin"), "part one, part two");
  EXPECT_THAT(paths_of(*scanner.scan(11'000)), ElementsAre("a.txt"));  // growing.bin started again
  EXPECT_THAT(paths_of(*scanner.scan(11'500)), ElementsAre("a.txt"));
  auto both = *scanner.scan(12'000);
  EXPECT_THAT(paths_of(both), ElementsAre("a.txt", "growing.bin"));
  EXPECT_EQ(both[1].size, 18u);
}

TEST_F(IngestTest, ZeroSettleTakesFilesAtFirstSight) {
  SourceScanner scanner("docs-in", src(), milliseconds(0));
  write_file(src("now.txt"), "x");
  EXPECT_THAT(paths_of(*scanner.scan(5)), ElementsAre("now.txt"));
}

TEST_F(IngestTest, SkipsDotNamesInProgressNamesAndAnythingNotARegularFile) {
  write_file(src("ok.txt"), "1");
  write_file(src("sub/ok2.txt"), "2");
  write_file(src(".hidden"), "3");
  write_file(src(".cache/inside.txt"), "4");
  write_file(src("upload.part"), "5");
  write_file(src("sub/x.tmp"), "6");
  write_file(tree_.path("outside/secret.txt"), "7");
  ASSERT_EQ(::symlink(tree_.path("outside/secret.txt").c_str(), src("link.txt").c_str()), 0);
  ASSERT_EQ(::symlink(tree_.path("outside").c_str(), src("linkdir").c_str()), 0);
  ASSERT_EQ(::mkfifo(src("fifo").c_str(), 0600), 0);
  SourceScanner scanner("docs-in", src(), milliseconds(100));
  EXPECT_THAT(paths_of(settled(scanner)), ElementsAre("ok.txt", "sub/ok2.txt"));
}

TEST_F(IngestTest, TakeMovesTheBytesIntoIncomingKeepingSubdirectoriesAndChineseNames) {
  const std::string rel = "年度 报告/第一季度/工作 总结.docx";
  write_file(src(rel), "季度数据");
  SourceScanner scanner("docs-in", src(), milliseconds(100));
  auto c = settled(scanner);
  ASSERT_THAT(paths_of(c), ElementsAre(rel));
  auto taken = scanner.take(c[0], *spool_);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken->state, State::incoming);
  EXPECT_EQ(taken->path, rel);
  EXPECT_EQ(taken->channel, "docs-in");
  EXPECT_EQ(taken->verdict, "ingested");
  EXPECT_EQ(taken->sm3, sm3_of("季度数据"));
  EXPECT_EQ(read_file(spool_->data_path(taken->id, State::incoming)), "季度数据");
  EXPECT_THAT(names(src(), true), IsEmpty());
  EXPECT_THAT(names(src("年度 报告/第一季度")), IsEmpty());  // no claim directory left
}

TEST_F(IngestTest, EveryBadNameIsQuarantinedWithItsBytes) {
  const std::string deep = std::string(250, 'd') + "/" + std::string(250, 'e') + "/" + std::string(250, 'f') + "/" +
                           std::string(250, 'g') + "/" + std::string(250, 'h') + "/file";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"line\nbreak.txt", "control character U+000A"},
      {"tab\tname.txt", "control character U+0009"},
      {"esc\x1b.txt", "control character U+001B"},
      {"del\x7f.txt", "control character U+007F"},
      {"c1 \xc2\x9b.txt", "control character U+009B"},
      {"latin1 \xe9.txt", "not valid UTF-8"},
      {"sub/overlong \xc0\xaf.txt", "not valid UTF-8"},
      {"report\xe2\x80\xae" "fdp.exe", "bidirectional override"},
      {deep, "over 1024"},
  };
  for (const auto& [rel, _] : bad) write_file(src(rel), "bytes of " + rel);
  SourceScanner scanner("docs-in", src(), milliseconds(100));
  auto c = settled(scanner);
  ASSERT_EQ(c.size(), bad.size());
  std::map<std::string, ObjectRecord> by_path;
  for (const Candidate& cand : c) {
    auto taken = scanner.take(cand, *spool_);
    ASSERT_TRUE(taken.ok()) << taken.error().message;
    by_path[cand.relative_path] = *taken;
  }
  for (const auto& [rel, says] : bad) {
    SCOPED_TRACE(rel);
    const ObjectRecord& r = by_path.at(rel);
    EXPECT_EQ(r.state, State::quarantine);
    EXPECT_EQ(r.verdict, "rejected");
    ASSERT_EQ(r.reasons.size(), 1u);
    EXPECT_EQ(r.reasons[0].code, "name.invalid");
    EXPECT_THAT(r.reasons[0].detail, HasSubstr(says));
    EXPECT_EQ(r.path, rel);
    EXPECT_EQ(read_file(spool_->data_path(r.id, State::quarantine)), "bytes of " + rel);
  }
  EXPECT_THAT(names(src(), true), IsEmpty());
  EXPECT_THAT(*spool_->list(State::incoming), IsEmpty());
}

TEST_F(IngestTest, AFileThatChangedAfterSettlingIsNotTaken) {
  write_file(src("a.txt"), "first");
  SourceScanner scanner("docs-in", src(), milliseconds(100));
  auto c = settled(scanner);
  ASSERT_EQ(c.size(), 1u);
  write_file(src("a.txt"), "first and more");
  auto taken = scanner.take(c[0], *spool_);
  ASSERT_FALSE(taken.ok());
  EXPECT_THAT(taken.error().message, HasSubstr("changed since it settled"));
  EXPECT_THAT(names(src()), ElementsAre("a.txt"));
  EXPECT_THAT(all_objects(), IsEmpty());
}

TEST_F(IngestTest, AVanishedFileIsAnErrorAndLeavesNoClaim) {
  write_file(src("a.txt"), "x");
  SourceScanner scanner("docs-in", src(), milliseconds(100));
  auto c = settled(scanner);
  ::unlink(src("a.txt").c_str());
  EXPECT_FALSE(scanner.take(c[0], *spool_).ok());
  EXPECT_THAT(names(src()), IsEmpty());
}

TEST_F(IngestTest, WhenTheSpoolCannotTakeItTheFileIsPutBack) {
  write_file(src("dir/a.txt"), "x");
  SourceScanner scanner("", src(), milliseconds(100));  // an empty channel name is refused by the record
  auto c = settled(scanner);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(scanner.take(c[0], *spool_).ok());
  EXPECT_THAT(names(src("dir")), ElementsAre("a.txt"));
  EXPECT_THAT(all_objects(), IsEmpty());
}

// take() by hand, stopped after each step, then recovery at start-up and
// one more scan-and-take: every time exactly one object, nothing left behind.
TEST_F(IngestTest, ExactlyOneObjectWhateverStepTakeWasCutAt) {
  const std::string rel = "子目录/" + std::string(90, 'x') + "很长的文件名" + std::string(110, 'y') + ".pdf";
  ASSERT_GT(rel.size() - rel.find('/') - 1, 255u - 46u);  // a claim *file* name could not hold it
  for (int steps = 0; steps <= 4; ++steps) {
    SCOPED_TRACE("steps done: " + std::to_string(steps));
    std::filesystem::remove_all(tree_.path("spool"));
    open_spool();
    write_file(src(rel), "the content");
    const ObjectId id = *ObjectId::generate();
    const std::string parent = src("子目录");
    const std::string claim = parent + "/" + std::string(kClaimPrefix) + id.hex();
    const std::string base = rel.substr(rel.find('/') + 1);
    if (steps >= 1) {
      ASSERT_EQ(::mkdir(claim.c_str(), 0700), 0);
    }
    if (steps >= 2) {
      ASSERT_EQ(::rename(src(rel).c_str(), (claim + "/" + base).c_str()), 0);
    }
    if (steps >= 3) {
      State state;
      ObjectRecord r = ingest_record(id, "docs-in", rel, state);
      ASSERT_TRUE(spool_->create_from_file(claim + "/" + base, r, state).ok());
    }
    if (steps >= 4) ::unlink((claim + "/" + base).c_str());

    open_spool();
    ASSERT_TRUE(spool_->recover().ok());
    SourceScanner scanner("docs-in", src(), milliseconds(0));
    auto recovered = scanner.recover_claims(*spool_);
    ASSERT_TRUE(recovered.ok()) << recovered.error().message;
    EXPECT_EQ(recovered->empty_removed, steps == 1 || steps == 4 ? 1u : 0u);
    EXPECT_EQ(recovered->retaken, steps == 2 ? 1u : 0u);
    EXPECT_EQ(recovered->released, steps == 3 ? 1u : 0u);
    for (const Candidate& c : test::must(scanner.scan(0))) ASSERT_TRUE(scanner.take(c, *spool_).ok());

    auto objects = all_objects();
    ASSERT_EQ(objects.size(), 1u);
    EXPECT_EQ(objects[0].path, rel);
    EXPECT_EQ(objects[0].state, State::incoming);
    EXPECT_EQ(objects[0].sm3, sm3_of("the content"));
    if (steps >= 2) {
      EXPECT_EQ(objects[0].id, id);
    }
    EXPECT_THAT(names(parent), IsEmpty());
  }
}

TEST_F(IngestTest, RecoverClaimsPutsBackWhatIsNotAFileAndLeavesWhatItDidNotMake) {
  const std::string claim_a = src(std::string(kClaimPrefix) + ObjectId::generate()->hex());
  const std::string claim_b = src(std::string(kClaimPrefix) + ObjectId::generate()->hex());
  ::mkdir(claim_a.c_str(), 0700);
  ASSERT_EQ(::symlink("/etc/passwd", (claim_a + "/link").c_str()), 0);
  write_file(claim_b + "/one", "1");
  write_file(claim_b + "/two", "2");
  SourceScanner scanner("docs-in", src(), milliseconds(0));
  auto r = scanner.recover_claims(*spool_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->returned, 1u);
  EXPECT_EQ(r->left, 1u);
  ASSERT_EQ(scanner.problems().size(), 1u);
  EXPECT_THAT(scanner.problems()[0], HasSubstr("more than one entry"));
  struct stat st;
  ASSERT_EQ(::lstat(src("link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_FALSE(exists(claim_a));
  EXPECT_THAT(all_objects(), IsEmpty());
}

// A child scans and takes; it is killed with SIGKILL at a random moment;
// recovery, claim recovery and a final take must yield each source file
// exactly once, byte-identical.
TEST_F(IngestTest, KillNineDuringIngestYieldsEachFileExactlyOnce) {
  std::mt19937_64 rng(7);
  std::map<std::string, std::string> expected;  // path -> content, all rounds
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    for (int i = 0; i < 60; ++i) {
      const std::string rel = "r" + std::to_string(round) + "/d" + std::to_string(i % 3) + "/文件 " + std::to_string(i);
      const std::string content = rel + std::string(rng() % 30000, 'c');
      write_file(src(rel), content);
      expected[rel] = content;
    }
    spool_.reset();
    test::Killed killed = test::run_and_kill(
        [&](int report) {
          auto s = Spool::open(tree_.path("spool"));
          if (!s.ok()) ::_exit(3);
          SourceScanner scanner("docs-in", src(), milliseconds(0));
          for (;;) {
            auto c = scanner.scan(0);
            if (!c.ok()) ::_exit(4);
            for (const Candidate& cand : *c) {
              if (scanner.take(cand, *s).ok()) test::report_line(report, cand.relative_path);
            }
          }
        },
        rng() % 40, std::chrono::microseconds(rng() % 3000));
    ASSERT_TRUE(killed.by_sigkill);

    open_spool();
    ASSERT_TRUE(spool_->recover().ok());
    SourceScanner scanner("docs-in", src(), milliseconds(0));
    ASSERT_TRUE(scanner.recover_claims(*spool_).ok());
    for (const Candidate& c : test::must(scanner.scan(0))) ASSERT_TRUE(scanner.take(c, *spool_).ok());

    std::map<std::string, int> seen;
    for (const ObjectRecord& r : all_objects()) {
      ++seen[r.path];
      ASSERT_TRUE(expected.count(r.path)) << r.path;
      EXPECT_EQ(read_file(spool_->data_path(r.id, r.state)), expected[r.path]);
    }
    EXPECT_EQ(seen.size(), expected.size());
    for (const auto& [path, n] : seen) EXPECT_EQ(n, 1) << path;
    EXPECT_THAT(names(src(), true), IsEmpty());
  }
}

bool wait_readable(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

TEST_F(IngestTest, InotifySeesANewFileInANewSubdirectory) {
  auto watch = InotifyWatch::open(src());
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  EXPECT_FALSE(watch->drain());
  std::filesystem::create_directories(src("new/deeper"));
  ASSERT_TRUE(wait_readable(watch->fd(), 2000));
  EXPECT_TRUE(watch->drain());
  EXPECT_EQ(watch->watch_count(), 3u);  // src, new, new/deeper
  write_file(src("new/deeper/f.txt"), "hello");
  ASSERT_TRUE(wait_readable(watch->fd(), 2000));
  EXPECT_TRUE(watch->drain());
  write_file(src("new/.in-progress"), "ignored");
  if (wait_readable(watch->fd(), 200)) {
    EXPECT_FALSE(watch->drain());
  }
  EXPECT_EQ(watch->failed_watches(), 0u);
}

}  // namespace
}  // namespace ferry::spool

// Delivery into a deliver directory: subdirectories, the collision suffix,
// redelivery after a crash, symlinks and hostile names, kill -9.
#include "ferry/spool/delivery.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/spool/temp_tree.h"

namespace ferry::spool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using test::exists;
using test::names;
using test::read_file;
using test::write_file;

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir(out().c_str(), 0755);
    open_spool();
  }
  void open_spool() {
    spool_.reset();
    auto s = Spool::open(tree_.path("spool"));
    ASSERT_TRUE(s.ok()) << s.error().message;
    spool_.emplace(std::move(*s));
  }
  std::string out() const { return tree_.path("deliver"); }
  std::string out(const std::string& rel) const { return out() + "/" + rel; }

  // An object in received, as complete_partial leaves it.
  ObjectRecord received(const std::string& path, const std::string& content) {
    write_file(tree_.path("staging"), content);
    ObjectRecord r;
    r.id = *ObjectId::generate();
    r.channel = "docs-in";
    r.path = path;
    r.verdict = "received";
    auto c = spool_->create_from_file(tree_.path("staging"), r, State::received);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? *c : r;
  }

  test::TempTree tree_;
  std::optional<Spool> spool_;
};

TEST_F(DeliveryTest, CreatesSubdirectoriesAndPlacesTheFile) {
  const ObjectRecord r = received("报告/2024/年报 final.pdf", "annual report");
  mode_t old = ::umask(077);
  auto d = deliver(*spool_, r.id, out());
  ::umask(old);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->path, out("报告/2024/年报 final.pdf"));
  EXPECT_EQ(d->name, "报告/2024/年报 final.pdf");
  EXPECT_FALSE(d->suffixed);
  EXPECT_FALSE(d->already_delivered);
  EXPECT_EQ(read_file(d->path), "annual report");
  EXPECT_THAT(names(out(), true), ElementsAre("报告/2024/年报 final.pdf"));  // no temp file left
  struct stat st;
  ASSERT_EQ(::stat(out("报告/2024").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat(d->path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  auto done = spool_->read(r.id, State::done);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->verdict, "delivered");
  EXPECT_EQ(done->delivered_name, "报告/2024/年报 final.pdf");
  EXPECT_THAT(*spool_->list(State::received), IsEmpty());
}

TEST_F(DeliveryTest, AnExistingFileIsNeverOverwrittenTheNewOneGetsTheIdSuffix) {
  write_file(out("docs/report.pdf"), "someone else's");
  const ObjectRecord r = received("docs/report.pdf", "ours");
  auto d = deliver(*spool_, r.id, out());
  ASSERT_TRUE(d.ok()) << d.error().message;
  const std::string want = "docs/report~" + r.id.hex().substr(0, 8) + ".pdf";
  EXPECT_EQ(d->name, want);
  EXPECT_TRUE(d->suffixed);
  EXPECT_EQ(read_file(out("docs/report.pdf")), "someone else's");
  EXPECT_EQ(read_file(out(want)), "ours");
  EXPECT_EQ(spool_->read(r.id, State::done)->delivered_name, want);
}

TEST_F(DeliveryTest, WhenTheShortSuffixIsTakenTooALongerOneIsUsed) {
  const ObjectRecord r = received("report.pdf", "ours");
  write_file(out("report.pdf"), "1");
  write_file(out("report~" + r.id.hex().substr(0, 8) + ".pdf"), "2");
  auto d = deliver(*spool_, r.id, out());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->name, "report~" + r.id.hex().substr(0, 16) + ".pdf");
}

TEST_F(DeliveryTest, RedeliveryAfterACrashBetweenRenameAndDoneMakesNoSecondFile) {
  const ObjectRecord r = received("a/report.pdf", "the bytes");
  // The state a crash leaves: name recorded, file renamed into place, object
  // still in received.
  ASSERT_TRUE(spool_->update(r.id, State::received, [](ObjectRecord& x) { x.delivered_name = "a/report.pdf"; }).ok());
  write_file(out("a/report.pdf"), "the bytes");
  open_spool();
  ASSERT_TRUE(spool_->recover().ok());
  auto d = deliver(*spool_, r.id, out());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->already_delivered);
  EXPECT_EQ(d->name, "a/report.pdf");
  EXPECT_THAT(names(out(), true), ElementsAre("a/report.pdf"));
  EXPECT_EQ(*spool_->find(r.id), State::done);
}

TEST_F(DeliveryTest, RedeliveryAfterACrashBeforeTheRenameDeliversOnce) {
  const ObjectRecord r = received("a/report.pdf", "the bytes");
  ASSERT_TRUE(spool_->update(r.id, State::received, [](ObjectRecord& x) { x.delivered_name = "a/report.pdf"; }).ok());
  write_file(out("a/.ferry-deliver." + r.id.hex() + ".tmp"), "the by");  // the temp, half written
  auto d = deliver(*spool_, r.id, out());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_FALSE(d->already_delivered);
  EXPECT_THAT(names(out(), true), ElementsAre("a/report.pdf"));
  EXPECT_EQ(read_file(out("a/report.pdf")), "the bytes");
}

TEST_F(DeliveryTest, ARecordedNameHoldingOtherBytesIsNotMistakenForOurs) {
  const ObjectRecord r = received("report.pdf", "ours");
  ASSERT_TRUE(spool_->update(r.id, State::received, [](ObjectRecord& x) { x.delivered_name = "report.pdf"; }).ok());
  write_file(out("report.pdf"), "a user's file that appeared meanwhile");
  auto d = deliver(*spool_, r.id, out());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->already_delivered);
  EXPECT_TRUE(d->suffixed);
  EXPECT_EQ(read_file(d->path), "ours");
  EXPECT_EQ(read_file(out("report.pdf")), "a user's file that appeared meanwhile");
}

TEST_F(DeliveryTest, ASymlinkedDirectoryInTheDeliverTreeIsNotFollowed) {
  ::mkdir(tree_.path("outside").c_str(), 0755);
  ASSERT_EQ(::symlink(tree_.path("outside").c_str(), out("a").c_str()), 0);
  const ObjectRecord r = received("a/x.txt", "escape attempt");
  auto d = deliver(*spool_, r.id, out());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, crypto::Errc::io);
  EXPECT_THAT(d.error().message, HasSubstr("symlinks are not followed"));
  EXPECT_THAT(names(tree_.path("outside")), IsEmpty());
  EXPECT_EQ(*spool_->find(r.id), State::received);
}

TEST_F(DeliveryTest, ASymlinkAtTheFinalNameIsNeitherFollowedNorReplaced) {
  write_file(tree_.path("outside/target"), "untouched");
  ASSERT_EQ(::symlink(tree_.path("outside/target").c_str(), out("x.txt").c_str()), 0);
  const ObjectRecord r = received("x.txt", "ours");
  auto d = deliver(*spool_, r.id, out());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->suffixed);
  EXPECT_EQ(read_file(tree_.path("outside/target")), "untouched");
  struct stat st;
  ASSERT_EQ(::lstat(out("x.txt").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(DeliveryTest, AHostileNameFromThePeerIsRefusedBeforeAnythingIsWritten) {
  for (const char* bad : {"../escape.txt", "/etc/cron.d/x", "a/../../b", "ok/\n.txt"}) {
    const ObjectRecord r = received(bad, "x");
    auto d = deliver(*spool_, r.id, out());
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_THAT(d.error().message, ::testing::StartsWith("name.invalid: "));
  }
  EXPECT_THAT(names(out(), true), IsEmpty());
  EXPECT_THAT(names(tree_.path("")), ::testing::Not(::testing::Contains("escape.txt")));
}

TEST_F(DeliveryTest, DataThatNoLongerMatchesItsRecordIsNotDelivered) {
  const ObjectRecord r = received("x.txt", "original");
  write_file(spool_->data_path(r.id, State::received), "tampered");
  auto d = deliver(*spool_, r.id, out());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, crypto::Errc::verify_failed);
  EXPECT_THAT(names(out(), true), IsEmpty());
}

// A child delivers objects one after another and is killed at a random
// moment; after recovery the survivors in received are delivered again.
// Every object ends up as exactly one file with its bytes.
TEST_F(DeliveryTest, KillNineDuringDeliveryDeliversEachObjectExactlyOnce) {
  std::mt19937_64 rng(99);
  std::map<std::string, std::string> expected;
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    for (int i = 0; i < 40; ++i) {
      const std::string path = "r" + std::to_string(round) + "/子目录 " + std::to_string(i % 4) + "/f" + std::to_string(i);
      const std::string content = path + std::string(rng() % 20000, 'd');
      received(path, content);
      expected[path] = content;
    }
    // Some names are taken already, so suffixes are exercised too.
    write_file(out("r" + std::to_string(round) + "/子目录 0/f0"), "pre-existing");
    spool_.reset();
    test::Killed killed = test::run_and_kill(
        [&](int report) {
          auto s = Spool::open(tree_.path("spool"));
          if (!s.ok()) ::_exit(3);
          for (;;) {
            auto waiting = s->list(State::received);
            if (!waiting.ok()) ::_exit(4);
            for (const ObjectRecord& r : *waiting) {
              if (!deliver(*s, r.id, out()).ok()) ::_exit(5);
              test::report_line(report, r.id.hex());
            }
          }
        },
        rng() % 30, std::chrono::microseconds(rng() % 3000));
    ASSERT_TRUE(killed.by_sigkill);

    open_spool();
    ASSERT_TRUE(spool_->recover().ok());
    for (const ObjectRecord& r : test::must(spool_->list(State::received))) {
      auto d = deliver(*spool_, r.id, out());
      ASSERT_TRUE(d.ok()) << d.error().message;
    }
    EXPECT_THAT(*spool_->list(State::received), IsEmpty());
    std::map<std::string, std::string> delivered;  // original path -> bytes at its delivered name
    for (const ObjectRecord& r : test::must(spool_->list(State::done))) {
      ASSERT_TRUE(r.delivered_name.has_value());
      delivered[r.path] = read_file(out(*r.delivered_name));
    }
    EXPECT_EQ(delivered, expected);
    std::vector<std::string> files = names(out(), true);
    EXPECT_EQ(files.size(), expected.size() + static_cast<std::size_t>(round + 1));  // plus the pre-existing ones
    for (const std::string& f : files) EXPECT_EQ(f.find(".ferry-"), std::string::npos) << f;
  }
}

}  // namespace
}  // namespace ferry::spool

// The exactly-once store: durable across reopen and kill -9, torn tails
// dropped, damage refused, retention by segment, and the remember rate.
#include "ferry/spool/delivered_ids.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/spool/temp_tree.h"

namespace ferry::spool {
namespace {

using ::testing::HasSubstr;
using test::names;
using test::read_file;
using test::write_file;

class DeliveredIdsTest : public ::testing::Test {
 protected:
  DeliveredIds open() {
    auto ids = DeliveredIds::open(dir(), [this] { return now_; });
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    return std::move(*ids);
  }
  std::string dir() const { return tree_.path("delivered-ids"); }
  std::vector<ObjectId> fresh(int n) {
    std::vector<ObjectId> out;
    for (int i = 0; i < n; ++i) out.push_back(*ObjectId::generate());
    return out;
  }

  test::TempTree tree_;
  std::int64_t now_ = 1718000000000;
};

TEST_F(DeliveredIdsTest, RemembersAcrossReopen) {
  const auto ids = fresh(3);
  {
    DeliveredIds store = open();
    EXPECT_FALSE(store.contains(ids[0]));
    ASSERT_TRUE(store.remember(ids[0]).ok());
    ASSERT_TRUE(store.remember(ids[1]).ok());
    ASSERT_TRUE(store.remember(ids[1]).ok());  // known already: not written twice
    EXPECT_TRUE(store.contains(ids[0]));
    EXPECT_EQ(store.size(), 2u);
  }
  DeliveredIds store = open();
  EXPECT_TRUE(store.contains(ids[0]));
  EXPECT_TRUE(store.contains(ids[1]));
  EXPECT_FALSE(store.contains(ids[2]));
  EXPECT_EQ(store.size(), 2u);
}

TEST_F(DeliveredIdsTest, TheOnDiskFormatIsOneHexIdPerLine) {
  const auto ids = fresh(2);
  DeliveredIds store = open();
  ASSERT_TRUE(store.remember_batch(ids).ok());
  auto files = names(dir());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], "00000001718000000000.ids");
  EXPECT_EQ(read_file(dir() + "/" + files[0]),
            "ferry-delivered-ids/1\n" + ids[0].hex() + "\n" + ids[1].hex() + "\n");
}

TEST_F(DeliveredIdsTest, BatchesDropDuplicatesWithinAndAcross) {
  const auto ids = fresh(3);
  DeliveredIds store = open();
  ASSERT_TRUE(store.remember(ids[0]).ok());
  std::vector<ObjectId> batch = {ids[0], ids[1], ids[1], ids[2]};
  ASSERT_TRUE(store.remember_batch(batch).ok());
  EXPECT_EQ(store.size(), 3u);
  DeliveredIds again = open();
  EXPECT_EQ(again.size(), 3u);
}

TEST_F(DeliveredIdsTest, ATornTailIsDroppedAndTruncated) {
  const auto ids = fresh(2);
  {
    DeliveredIds store = open();
    ASSERT_TRUE(store.remember_batch(ids).ok());
  }
  const std::string seg = dir() + "/" + names(dir())[0];
  write_file(seg, read_file(seg) + "0123456789abcdef01");  // an append cut short
  DeliveredIds store = open();
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(read_file(seg), "ferry-delivered-ids/1\n" + ids[0].hex() + "\n" + ids[1].hex() + "\n");
  write_file(seg, read_file(seg) + std::string(40, '\0'));  // zeros after a crash
  EXPECT_EQ(open().size(), 2u);
}

TEST_F(DeliveredIdsTest, DamageBeforeValidIdsIsAnError) {
  const auto ids = fresh(1);
  write_file(dir() + "/00000001700000000000.ids",
             "ferry-delivered-ids/1\nnot an id\n" + ids[0].hex() + "\n");
  auto store = DeliveredIds::open(dir());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, crypto::Errc::bad_format);
  EXPECT_THAT(store.error().message, HasSubstr("damaged at byte 22"));
  write_file(dir() + "/00000001700000000000.ids", "something else entirely\n");
  auto other = DeliveredIds::open(dir());
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.error().message, HasSubstr("not a delivered-ids segment"));
}

TEST_F(DeliveredIdsTest, ASegmentTornAtCreationIsRemoved) {
  write_file(dir() + "/00000001700000000000.ids", "ferry-deliv");
  DeliveredIds store = open();
  EXPECT_EQ(store.size(), 0u);
  EXPECT_THAT(names(dir()), ::testing::IsEmpty());
}

TEST_F(DeliveredIdsTest, PruneDropsWholeSegmentsOlderThanTheCutoff) {
  const auto old_ids = fresh(3);
  const auto mid_ids = fresh(2);
  const auto new_ids = fresh(1);
  {
    DeliveredIds store = open();  // segment starts at t0
    ASSERT_TRUE(store.remember_batch(old_ids).ok());
  }
  const std::int64_t t0 = now_;
  now_ += 1000;
  DeliveredIds store = open();
  ASSERT_TRUE(store.remember_batch(mid_ids).ok());  // segment at t0+1000
  now_ += DeliveredIds::kSegmentSpanMs;             // the active segment rotates
  ASSERT_TRUE(store.remember_batch(new_ids).ok());
  EXPECT_EQ(store.segment_count(), 3u);

  EXPECT_EQ(*store.prune(t0 + 999), 0u);  // the t0 segment might hold ids up to t0+999
  auto pruned = store.prune(t0 + 1000);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 3u);
  for (const auto& id : old_ids) EXPECT_FALSE(store.contains(id));
  for (const auto& id : mid_ids) EXPECT_TRUE(store.contains(id));
  EXPECT_EQ(*store.prune(now_ + 1000000), 2u);  // the newest segment is never pruned
  EXPECT_TRUE(store.contains(new_ids[0]));
  EXPECT_EQ(store.segment_count(), 1u);
  DeliveredIds reopened = open();
  EXPECT_EQ(reopened.size(), 1u);
  EXPECT_TRUE(reopened.contains(new_ids[0]));
}

TEST_F(DeliveredIdsTest, SegmentsRotateAtTheIdLimit) {
  DeliveredIds store = open();
  std::vector<ObjectId> many = fresh(static_cast<int>(DeliveredIds::kSegmentIds) + 5);
  ASSERT_TRUE(store.remember_batch(many).ok());
  EXPECT_EQ(store.segment_count(), 2u);
  DeliveredIds again = open();
  EXPECT_EQ(again.size(), many.size());
}

// What remember() reported survives kill -9 of the process.
TEST_F(DeliveredIdsTest, SurvivesKillNine) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto store = DeliveredIds::open(dir());
    if (!store.ok()) ::_exit(3);
    for (;;) {
      const ObjectId id = *ObjectId::generate();
      if (!store->remember(id).ok()) ::_exit(4);
      const std::string line = id.hex() + "\n";
      if (::write(fds[1], line.data(), line.size()) < 0) ::_exit(5);
    }
  }
  ::close(fds[1]);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  std::string log;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) log.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  DeliveredIds store = open();
  std::size_t reported = 0;
  for (std::size_t at = 0; at + 33 <= log.size(); at += 33, ++reported) {
    EXPECT_TRUE(store.contains(*ObjectId::parse(log.substr(at, 32))));
  }
  EXPECT_GT(reported, 0u);
  EXPECT_LE(store.size(), reported + 1);
}

// Not a benchmark with a bar: prints what this machine does, one fdatasync
// per remember() and per batch of 100.
TEST_F(DeliveredIdsTest, PrintsTheRememberRate) {
  DeliveredIds store = open();
  const auto ids = fresh(500);
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (const ObjectId& id : ids) ASSERT_TRUE(store.remember(id).ok());
  const double single = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto batched_ids = fresh(5000);
  const auto t1 = Clock::now();
  for (std::size_t i = 0; i < batched_ids.size(); i += 100) {
    ASSERT_TRUE(store.remember_batch(std::span<const ObjectId>(batched_ids).subspan(i, 100)).ok());
  }
  const double batched = std::chrono::duration<double>(Clock::now() - t1).count();
  std::printf("DeliveredIds::remember: %.0f ids/s one at a time (fdatasync each), %.0f ids/s in batches of 100\n",
              static_cast<double>(ids.size()) / single, static_cast<double>(batched_ids.size()) / batched);
  EXPECT_EQ(store.size(), 5500u);
}

}  // namespace
}  // namespace ferry::spool

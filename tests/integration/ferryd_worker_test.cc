// ferryd with a worker that misbehaves (ferry-test-worker: the real worker,
// told by object names to loop, crash or eat memory): each such object is
// rejected with its worker.* reason and audited, ferryd keeps running, and
// the objects around it cross.
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/delivery_check.h"
#include "tests/integration/two_sides.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;

TEST(FerrydWorker, AWorkerThatLoopsCrashesOrEatsMemoryCostsOneObjectNotTheDaemon) {
  TwoSidesOptions options;
  options.config_extra = std::string("worker:\n  program: ") + FERRY_TEST_WORKER_PATH +
                         "\n  memory: 256MiB\n  timeout_floor_seconds: 2\n  timeout_per_mib_ms: 0\n"
                         "  timeout_ceiling_seconds: 3\n";
  TwoSides sides(options);
  sides.start_both();
  drop_file(sides.inbox("docs-in"), "before.txt", "an ordinary notice\n");
  drop_file(sides.inbox("docs-in"), "loop.txt", "x\n");
  drop_file(sides.inbox("docs-in"), "segv.txt", "x\n");
  drop_file(sides.inbox("docs-in"), "hog.txt", "x\n");
  drop_file(sides.inbox("docs-in"), "fork.txt", "x\n");
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return count_files(sides.spool(Which::outer) + "/quarantine") == 8; }, std::chrono::seconds(60)))
      << sides.log(Which::outer);
  ASSERT_TRUE(sides.running(Which::outer));
  drop_file(sides.inbox("docs-in"), "after.txt", "another notice\n");
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("docs-in")) == 2; }, std::chrono::seconds(60)))
      << sides.log(Which::outer);
  const std::string outer = sides.log(Which::outer);
  EXPECT_THAT(outer, HasSubstr("\"reason\":\"worker.timeout\""));
  EXPECT_THAT(outer, HasSubstr("\"event\":\"worker.timeout\""));  // the incident, audited on its own
  EXPECT_THAT(outer, HasSubstr("\"event\":\"worker.crash\""));
  EXPECT_THAT(outer, HasSubstr("SIGSEGV"));
  EXPECT_THAT(outer, HasSubstr("ran out of memory"));
  EXPECT_THAT(outer, HasSubstr("SIGSYS"));
  EXPECT_EQ(digest_tree(sides.outbox("docs-in")).count("before.txt"), 1u);
  EXPECT_EQ(digest_tree(sides.outbox("docs-in")).count("after.txt"), 1u);
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
}

TEST(FerrydWorker, WithoutAWorkerObjectsWaitInTheSpoolAndCrossOnceOneRuns) {
  // A worker that cannot start is nobody's object's fault: the objects are
  // held where they are, never passed, never quarantined.
  TwoSidesOptions options;
  options.config_extra = "worker:\n  program: /bin/false\n";  // runs, and is no worker
  TwoSides sides(options);
  sides.start_both();
  drop_file(sides.inbox("docs-in"), "waiting.txt", "an ordinary notice\n");
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return sides.log(Which::outer).find("objects wait in incoming") != std::string::npos; },
      std::chrono::seconds(30)))
      << sides.log(Which::outer);
  EXPECT_EQ(count_files(sides.spool(Which::outer) + "/quarantine"), 0u);
  EXPECT_EQ(count_files(sides.spool(Which::outer) + "/incoming"), 2u) << "data and record";
  EXPECT_EQ(count_files(sides.outbox("docs-in")), 0u);
  // The sysadmin fixes both configs; after a restart the object crosses.
  for (Which w : {Which::outer, Which::inner}) {
    EXPECT_EQ(sides.stop(w), 0);
    std::string config;
    {
      std::ifstream in(sides.config(w));
      config.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    config.erase(config.find("worker:\n"));
    std::ofstream(sides.config(w), std::ios::trunc) << config;
  }
  sides.start_both();
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("docs-in")) == 1; }, std::chrono::seconds(60)))
      << sides.log(Which::outer);
}

}  // namespace
}  // namespace ferry::test

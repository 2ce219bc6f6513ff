// The child-process helper the interop tests stand on: if it lost output,
// deadlocked on a large stdin, or hung on a stuck child, every interop result
// above it would mean nothing.

#include <csignal>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/subprocess.h"

namespace ferry::test {
namespace {

TEST(Subprocess, RoundTripsMoreStdinThanAPipeHolds) {
  std::vector<std::uint8_t> input(3 * 1024 * 1024 + 17);
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<std::uint8_t>(i * 131 + 7);
  ProcessOptions options;
  options.stdin_bytes = input;
  const ProcessOutcome r = run_process({"cat"}, options);
  ASSERT_TRUE(r.succeeded()) << r.describe() << " " << r.err;
  EXPECT_EQ(r.out, std::string(input.begin(), input.end()));
}

TEST(Subprocess, ReportsExitCodeAndStderr) {
  const ProcessOutcome r = run_process({"ls", "/ferry-no-such-path"}, {});
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.exited);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.err.empty());
}

TEST(Subprocess, ArgumentsAreNotInterpretedByAShell) {
  const ProcessOutcome r = run_process({"echo", "$HOME; `id` | x > y"}, {});
  ASSERT_TRUE(r.succeeded()) << r.describe();
  EXPECT_EQ(r.out, "$HOME; `id` | x > y\n");
}

TEST(Subprocess, ChildThatStopsReadingDoesNotKillTheCaller) {
  std::vector<std::uint8_t> input(4 * 1024 * 1024, 'x');
  ProcessOptions options;
  options.stdin_bytes = input;
  const ProcessOutcome r = run_process({"true"}, options);
  EXPECT_TRUE(r.succeeded()) << r.describe();
}

TEST(Subprocess, KillsAChildAtTheDeadline) {
  ProcessOptions options;
  options.timeout = std::chrono::milliseconds(200);
  const ProcessOutcome r = run_process({"sleep", "30"}, options);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.succeeded());
}

TEST(Subprocess, MissingProgramIsNotStarted) {
  const ProcessOutcome r = run_process({"ferry-no-such-program"}, {});
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.error.find("ferry-no-such-program"), std::string::npos) << r.error;
  EXPECT_FALSE(find_on_path("ferry-no-such-program").has_value());
}

}  // namespace
}  // namespace ferry::test

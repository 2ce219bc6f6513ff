// Power-on self-tests and the random generator's statistical health check.
#include "crypto/selftest.h"

#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <random>
#include <string>
#include <vector>

namespace ferry::crypto {
namespace {

constexpr std::size_t kSampleBytes = 2500;  // 20,000 bits, FIPS 140-2 §4.9.1

TEST(PowerOnSelfTests, EveryEntryPasses) {
  const std::vector<SelfTest> tests = power_on_selftests();
  ASSERT_FALSE(tests.empty());
  const std::vector<SelfTestOutcome> outcomes = run_selftests(tests);
  ASSERT_EQ(outcomes.size(), tests.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    SCOPED_TRACE(outcomes[i].name);
    EXPECT_EQ(outcomes[i].name, tests[i].name);
    EXPECT_FALSE(outcomes[i].name.empty());
    EXPECT_FALSE(outcomes[i].source.empty()) << "every self-test names where its expected value comes from";
    EXPECT_TRUE(outcomes[i].passed) << outcomes[i].detail;
    EXPECT_TRUE(outcomes[i].detail.empty()) << outcomes[i].detail;
  }
}

// GM/T 0028 §6.2.2: a KAT for every algorithm in use, and an RNG check.
TEST(PowerOnSelfTests, CoverEveryAlgorithm) {
  std::string names;
  for (const SelfTest& t : power_on_selftests()) names += t.name + "\n";
  for (std::string_view algorithm : {"SM3", "HMAC-SM3", "SM4", "SM4-CBC", "SM4-CTR", "SM2 verify", "SM2 decrypt",
                                     "SM2 key exchange", "seal", "random"}) {
    EXPECT_NE(names.find(algorithm), std::string::npos) << algorithm << " missing from:\n" << names;
  }
}

TEST(PowerOnSelfTests, RequireReturnsWhenAllPass) {
  require_selftests(power_on_selftests());
  SUCCEED();
}

SelfTest passing_test() {
  return {"Custom passing test", "this unit test", [] { return Status{}; }};
}

SelfTest failing_test() {
  return {"Custom failing test", "this unit test",
          [] { return Status(make_error(Errc::selftest_failed, "expected 01, got 02")); }};
}

TEST(RunSelfTests, ReportsAFailingTestWithItsDetail) {
  const std::vector<SelfTest> tests = {passing_test(), failing_test(), passing_test()};
  const std::vector<SelfTestOutcome> outcomes = run_selftests(tests);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].passed);
  EXPECT_TRUE(outcomes[0].detail.empty());
  EXPECT_FALSE(outcomes[1].passed);
  EXPECT_EQ(outcomes[1].name, "Custom failing test");
  EXPECT_EQ(outcomes[1].source, "this unit test");
  EXPECT_EQ(outcomes[1].detail, "expected 01, got 02");
  EXPECT_TRUE(outcomes[2].passed);  // a failure does not stop the others from running
}

TEST(RunSelfTests, EmptyListGivesNoOutcomes) { EXPECT_TRUE(run_selftests({}).empty()); }

TEST(RequireSelfTestsDeathTest, FailingTestExitsWithStatus1AndNamesIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::vector<SelfTest> tests = {passing_test(), failing_test()};
  EXPECT_EXIT(require_selftests(tests), ::testing::ExitedWithCode(1),
              "Custom failing test.*expected 01, got 02");
}

TEST(RequireSelfTests, ReturnsWhenAllPass) {
  const std::vector<SelfTest> tests = {passing_test(), passing_test()};
  require_selftests(tests);
  SUCCEED();
}

// --- check_random_sample ------------------------------------------------------

Bytes seeded_sample(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes s(kSampleBytes);
  for (auto& b : s) b = static_cast<std::uint8_t>(rng() >> 56);
  return s;
}

void set_bit(Bytes& s, std::size_t bit, bool value) {  // most significant bit first, as the tests read it
  const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
  if (value) {
    s[bit / 8] |= mask;
  } else {
    s[bit / 8] &= static_cast<std::uint8_t>(~mask);
  }
}

// A run of `length` zero bits starting at `start`, bounded by ones.
Bytes with_zero_run(Bytes s, std::size_t start, std::size_t length) {
  if (start > 0) set_bit(s, start - 1, true);
  for (std::size_t i = 0; i < length; ++i) set_bit(s, start + i, false);
  if (start + length < s.size() * 8) set_bit(s, start + length, true);
  return s;
}

void expect_rng_failure(ByteView sample, std::string_view which) {
  Status st = check_random_sample(sample);
  ASSERT_FALSE(st.ok()) << which << " sample was accepted";
  EXPECT_EQ(st.error().code, Errc::rng);
  EXPECT_NE(st.error().message.find(which), std::string::npos) << st.error().message;
}

TEST(CheckRandomSample, AcceptsSeededPseudorandomSamples) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Status st = check_random_sample(seeded_sample(seed));
    EXPECT_TRUE(st.ok()) << "seed " << seed << ": " << st.error().message;
  }
}

// A good generator fails these tests with a probability of the order of 1e-4
// per sample, so one redraw is allowed; a check that rejects random data
// outright still fails here.
TEST(CheckRandomSample, AcceptsASampleFromRandBytes) {
  Status st = make_error(Errc::rng, "not run");
  for (int attempt = 0; attempt < 2 && !st.ok(); ++attempt) {
    Bytes sample(kSampleBytes);
    ASSERT_EQ(RAND_bytes(sample.data(), static_cast<int>(sample.size())), 1);
    st = check_random_sample(sample);
  }
  EXPECT_TRUE(st.ok()) << st.error().message;
}

TEST(CheckRandomSample, RejectsAllZeroAndAllOnes) {
  expect_rng_failure(Bytes(kSampleBytes, 0x00), "monobit");
  expect_rng_failure(Bytes(kSampleBytes, 0xFF), "monobit");
}

TEST(CheckRandomSample, RejectsAlternatingBits) {
  // Exactly half ones, so it passes monobit; only one nibble value occurs.
  expect_rng_failure(Bytes(kSampleBytes, 0x55), "poker");
  expect_rng_failure(Bytes(kSampleBytes, 0xAA), "poker");
}

TEST(CheckRandomSample, RejectsASampleWithALongRun) {
  const Bytes base = seeded_sample(7);
  ASSERT_TRUE(check_random_sample(base).ok());
  expect_rng_failure(with_zero_run(base, 8000, 40), "long-run");
  // FIPS 140-2: a long run is 26 or more equal bits; 25 is not one.
  EXPECT_TRUE(check_random_sample(with_zero_run(base, 8000, 25)).ok());
  expect_rng_failure(with_zero_run(base, 8000, 26), "long-run");
  // At the very start and the very end of the sample as well.
  expect_rng_failure(with_zero_run(base, 0, 26), "long-run");
  expect_rng_failure(with_zero_run(base, kSampleBytes * 8 - 26, 26), "long-run");
}

TEST(CheckRandomSample, RejectsWrongSampleSize) {
  for (std::size_t size : {0, 2499, 2501}) {
    Status st = check_random_sample(Bytes(size, 0x5A));
    ASSERT_FALSE(st.ok()) << size;
    EXPECT_EQ(st.error().code, Errc::invalid_argument) << size;
  }
}

TEST(RandomHealthCheck, PassesOnTheSystemGenerator) {
  // random_health_check retests a failed sample once itself, so a good
  // generator fails it about once in a million runs.
  Status st = random_health_check();
  EXPECT_TRUE(st.ok()) << st.error().message;
}

}  // namespace
}  // namespace ferry::crypto

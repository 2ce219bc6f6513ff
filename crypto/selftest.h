// Power-on self-tests in the manner of GM/T 0028-2014 §6.2.2 and GM/T
// 0124-2022: a known-answer test for every algorithm, a consistency test for
// the key exchange and the seal, and a health check of the random generator.
// A program that uses keys runs them before anything else, and stops if any
// fails.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/result.h"

namespace ferry::crypto {

struct SelfTest {
  std::string name;    // "SM3 KAT"
  std::string source;  // where the expected value comes from
  std::function<Status()> run;
};

struct SelfTestOutcome {
  std::string name;
  std::string source;
  bool passed = false;
  std::string detail;  // why it failed; empty on success
};

const std::vector<SelfTest>& power_on_selftests();

std::vector<SelfTestOutcome> run_selftests(std::span<const SelfTest> tests);

// Runs the tests; if any fails, writes which and why to stderr and exits the
// process with status 1. Returns only when all passed.
void require_selftests(std::span<const SelfTest> tests);
void require_power_on_selftests();

// FIPS 140-2 §4.9.1 statistical tests (monobit, poker, runs, long run) on a
// 20,000-bit sample; GM/T 0005's power-on subset is of the same kind.
Status check_random_sample(ByteView sample_2500_bytes);
// Draws a fresh sample from the DRBG and checks it (a failed sample is
// retested once on a new one), and checks that two successive outputs differ
// (continuous test).
Status random_health_check();

}  // namespace ferry::crypto

// A real ferryd and the policy it is given: with officers.secadmin keys in
// the config (as in the reference single-host configs) a side runs only a
// policy signed by one of them, never one older than it has applied, and on
// SIGHUP keeps the policy in force when the new one is refused. What is
// checked is what an operator sees: the exit status and message at start,
// the audit lines, and the serial `ferryctl status --json` reports.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/two_sides.h"
#include "tests/support/subprocess.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::seconds;
namespace stdfs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

std::string with_serial(std::string policy, int serial) {
  const std::size_t p = policy.find("serial: 7 ");
  if (p == std::string::npos) throw std::runtime_error("reference policy lacks 'serial: 7'");
  return policy.replace(p, 9, "serial: " + std::to_string(serial));
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

ProcessOutcome ferryctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {FERRYCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {});
}

class PolicySignatureTest : public ::testing::Test {
 protected:
  // ferryd --config for the outer side, run to its end: a refused policy
  // stops it at once.
  ProcessOutcome run_outer() {
    ProcessOptions opts;
    opts.timeout = seconds(20);
    return run_process({FERRYD_PATH, "--config", sides_.config(Which::outer)}, opts);
  }

  // Starts the outer side and waits until this run has started (the log
  // keeps the lines of earlier runs).
  void start_outer() {
    const std::size_t runs = count_of(sides_.log(Which::outer), "\"event\":\"side.started\"");
    sides_.start(Which::outer);
    ASSERT_TRUE(TwoSides::wait_until(
        [&] { return count_of(sides_.log(Which::outer), "\"event\":\"side.started\"") > runs; }, seconds(20)))
        << sides_.log(Which::outer);
  }

  std::string status_json() { return ferryctl({"--config", sides_.config(Which::outer), "status", "--json"}).out; }

  // Waits for a fresh status document (rewritten every second) and returns it.
  std::string fresh_status() {
    const std::string path = sides_.spool(Which::outer) + "/status.json";
    std::error_code ec;
    const auto before = stdfs::last_write_time(path, ec);
    TwoSides::wait_until([&] { return stdfs::last_write_time(path, ec) != before; }, seconds(5));
    return status_json();
  }

  // SIGHUP and wait for the n-th policy.reload_refused line.
  void reload_expecting_refusal(std::size_t n) {
    sides_.signal(Which::outer, SIGHUP);
    ASSERT_TRUE(TwoSides::wait_until(
        [&] { return count_of(sides_.log(Which::outer), "\"event\":\"policy.reload_refused\"") >= n; }, seconds(10)))
        << sides_.log(Which::outer);
  }

  TwoSides sides_;
  const std::string reference_ = slurp(sides_.policy_path());
};

TEST_F(PolicySignatureTest, StartRefusesAnUnsignedPolicyNamingTheSignatureFileAndTheKeys) {
  stdfs::remove(sides_.policy_path() + ".sig");
  ProcessOutcome r = run_outer();
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("policy refused (unsigned)"));
  EXPECT_THAT(r.err, HasSubstr(sides_.policy_path() + ".sig: missing signature file; " + sides_.policy_path() +
                               " is not signed"));
  EXPECT_THAT(r.err, HasSubstr(sides_.dir() + "/keys/secadmin.pub, " + sides_.dir() + "/keys/secadmin2.pub"));
  EXPECT_FALSE(stdfs::exists(sides_.spool(Which::outer) + "/status.json"));
}

TEST_F(PolicySignatureTest, StartRefusesAPolicySignedByTheAuditorAndSaysWhose) {
  sides_.sign_policy("auditor");
  ProcessOutcome r = run_outer();
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("policy refused (bad_signature)"));
  EXPECT_THAT(r.err, HasSubstr(sides_.policy_path() + " is not signed by any of the given keys (" + sides_.dir() +
                               "/keys/secadmin.pub, " + sides_.dir() + "/keys/secadmin2.pub"));
  EXPECT_THAT(r.err, HasSubstr("it is signed by " + sides_.dir() + "/keys/auditor.pub, a key of officers.auditor"));
}

TEST_F(PolicySignatureTest, StartRefusesAPolicyChangedAfterItWasSigned) {
  // One byte of a limit, after the officer signed.
  std::string text = reference_;
  const std::size_t p = text.find("50MiB");
  ASSERT_NE(p, std::string::npos);
  text[p] = '9';
  spit(sides_.policy_path(), text);
  ProcessOutcome r = run_outer();
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("policy refused (bad_signature)"));
  EXPECT_THAT(r.err, HasSubstr(sides_.policy_path() + ".sig: " + sides_.policy_path() + " is not signed by any"));
}

TEST_F(PolicySignatureTest, SecondOfficerKeyAndFerryctlPolicySignAreAccepted) {
  const ProcessOutcome signed_ = ferryctl({"policy", "sign", "--key", sides_.dir() + "/keys/secadmin2.key",
                                           sides_.policy_path()});
  ASSERT_TRUE(signed_.succeeded()) << signed_.err;
  start_outer();
  const std::string log = sides_.log(Which::outer);
  EXPECT_THAT(log, HasSubstr("\"policy_signer\":\"" + sides_.dir() + "/keys/secadmin2.pub (SM3 fingerprint "));
  EXPECT_THAT(log, Not(HasSubstr("policy.unsigned_accepted")));
  EXPECT_EQ(sides_.stop(Which::outer), 0);
}

TEST_F(PolicySignatureTest, WithoutSecadminKeysAnUnsignedPolicyRunsAndTheAuditSaysSo) {
  std::string config = slurp(sides_.config(Which::outer));
  const std::size_t from = config.find("officers:");
  const std::size_t to = config.find("\n\n", from);
  ASSERT_NE(from, std::string::npos);
  config.erase(from, to - from);
  spit(sides_.config(Which::outer), config);
  stdfs::remove(sides_.policy_path() + ".sig");
  start_outer();
  EXPECT_THAT(sides_.log(Which::outer), HasSubstr("\"event\":\"policy.unsigned_accepted\""));
  EXPECT_THAT(sides_.log(Which::outer), HasSubstr("the config names no officers.secadmin keys"));
  EXPECT_EQ(sides_.stop(Which::outer), 0);
}

TEST_F(PolicySignatureTest, ALowerSerialIsRefusedAfterARestartAndAfterAReload) {
  start_outer();
  EXPECT_EQ(sides_.stop(Which::outer), 0);

  // Serial 6, genuinely signed by the officer: an old policy put back.
  sides_.write_signed_policy(with_serial(reference_, 6));
  ProcessOutcome r = run_outer();
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("policy refused (rollback): " + sides_.policy_path() +
                               ": policy serial 6 is lower than serial 7, the highest this side has applied"));

  // The same serial again is a restart, not a rollback; a reload to 9 is
  // remembered across the next restart.
  sides_.write_signed_policy(reference_);
  start_outer();
  sides_.write_signed_policy(with_serial(reference_, 9));
  sides_.signal(Which::outer, SIGHUP);
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return sides_.log(Which::outer).find("\"event\":\"policy.reloaded\"") != std::string::npos; }, seconds(10)));
  EXPECT_EQ(sides_.stop(Which::outer), 0);

  sides_.write_signed_policy(with_serial(reference_, 8));
  r = run_outer();
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("policy serial 8 is lower than serial 9"));
  EXPECT_EQ(slurp(sides_.spool(Which::outer) + "/policy-serial"), "ferry-policy-serial/1\n9\n");
}

TEST_F(PolicySignatureTest, ADamagedSerialRecordStopsTheStartRatherThanResetIt) {
  start_outer();
  EXPECT_EQ(sides_.stop(Which::outer), 0);
  const std::string record = sides_.spool(Which::outer) + "/policy-serial";
  spit(record, "ferry-policy-serial/1\n7x\n");
  ProcessOutcome r = run_outer();
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr(record + ": damaged record of the highest policy serial applied"));
  EXPECT_EQ(slurp(record), "ferry-policy-serial/1\n7x\n");
}

TEST_F(PolicySignatureTest, SighupKeepsThePolicyInForceWhenTheNewOneIsRefused) {
  start_outer();
  sides_.write_signed_policy(with_serial(reference_, 8));
  sides_.signal(Which::outer, SIGHUP);
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return sides_.log(Which::outer).find("\"event\":\"policy.reloaded\"") != std::string::npos; }, seconds(10)));
  EXPECT_THAT(sides_.log(Which::outer), HasSubstr("\"signer\":\"" + sides_.dir() + "/keys/secadmin.pub"));
  ASSERT_THAT(fresh_status(), HasSubstr(",\"policy_serial\":8,"));

  struct Case {
    std::string what;
    std::function<void()> write;
    std::string reason;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unsigned",
       [&] {
         spit(sides_.policy_path(), with_serial(reference_, 10));
         stdfs::remove(sides_.policy_path() + ".sig");
       },
       "unsigned", "missing signature file"},
      {"signed by the auditor", [&] { sides_.write_signed_policy(with_serial(reference_, 10), "auditor"); },
       "bad_signature", "a key of officers.auditor"},
      {"changed after signing",
       [&] {
         sides_.write_signed_policy(with_serial(reference_, 10));
         spit(sides_.policy_path(), with_serial(reference_, 11));
       },
       "bad_signature", "is not signed by any of the given keys"},
      {"lower serial", [&] { sides_.write_signed_policy(reference_); }, "rollback",
       "policy serial 7 is lower than serial 8"},
  };
  std::size_t refused = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    c.write();
    reload_expecting_refusal(++refused);
    EXPECT_TRUE(sides_.running(Which::outer));
    const std::string log = sides_.log(Which::outer);
    const std::string last = log.substr(log.rfind("\"event\":\"policy.reload_refused\""));
    EXPECT_THAT(last, HasSubstr("\"reason\":\"" + c.reason + "\""));
    EXPECT_THAT(last, HasSubstr(c.message));
    EXPECT_THAT(last, HasSubstr("\"kept_serial\":\"8\""));
    EXPECT_THAT(fresh_status(), HasSubstr(",\"policy_serial\":8,"));
  }
  EXPECT_EQ(count_of(sides_.log(Which::outer), "\"event\":\"policy.reloaded\""), 1u);
  EXPECT_EQ(slurp(sides_.spool(Which::outer) + "/policy-serial"), "ferry-policy-serial/1\n8\n");
}

}  // namespace
}  // namespace ferry::test

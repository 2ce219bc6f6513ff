// `ferryctl audit verify` as an auditor uses it: a real process over an
// audit directory the test writes with AuditLog; exit 0 intact, 1 with the
// first bad record named, 2 for usage errors.
#include <chrono>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/sm2.h"
#include "ferry/audit/log.h"
#include "tests/cli/ctl_sandbox.h"

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class AuditVerifyCommandTest : public ferry::test::CtlSandbox {
 protected:
  void SetUp() override {
    CtlSandbox::SetUp();
    key_ = ferry::crypto::Sm2PrivateKey::generate().value();
    write("side.pub", key_->public_key().to_pem());
    write("other.pub", ferry::crypto::Sm2PrivateKey::generate().value().public_key().to_pem());
    ferry::audit::LogOptions o;
    o.dir = path("audit");
    o.side = "inner";
    o.checkpoint_records = 5;
    auto log = ferry::audit::AuditLog::open(o, *key_);
    ASSERT_TRUE(log.ok()) << log.error().message;
    const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'795'737'600));
    for (int i = 0; i < 12; ++i) {
      ferry::audit::Event e{"object.delivered", ferry::audit::Severity::info, {}};
      e.with("object", std::to_string(i));
      ASSERT_TRUE((*log)->append(e, t0 + std::chrono::seconds(i)).ok());
    }
    ASSERT_TRUE((*log)->sync().ok());
  }

  std::string segment() const { return path("audit/audit-00000000000000000001.jsonl"); }

  std::optional<ferry::crypto::Sm2PrivateKey> key_;
};

TEST_F(AuditVerifyCommandTest, AnIntactLogExitsZeroWithASummary) {
  ferry::test::ProcessOutcome r = ctl({"audit", "verify", "audit", "--pub", "side.pub"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("audit: intact"));
  EXPECT_THAT(r.out, HasSubstr("1..14 (14 records, 2 checkpoints, 1 segments)"));
  EXPECT_THAT(r.out, HasSubstr("head seal   seq 14"));
  EXPECT_THAT(r.out, HasSubstr("signatures  checked with key"));

  r = ctl({"audit", "verify", "audit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("signatures  NOT checked"));
}

TEST_F(AuditVerifyCommandTest, AnAlteredRecordExitsOneNamingTheFirstBadRecord) {
  std::string text = read(segment());
  const std::size_t at = text.find("\"object\":\"2\"");
  ASSERT_NE(at, std::string::npos);
  text[at + 10] = '7';
  write("audit/audit-00000000000000000001.jsonl", text);
  const ferry::test::ProcessOutcome r = ctl({"audit", "verify", "audit", "--pub", "side.pub"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NOT INTACT"));
  EXPECT_THAT(r.out, HasSubstr("FIRST BAD   audit/audit-00000000000000000001.jsonl line 3 seq 3: "));
  EXPECT_THAT(r.out, HasSubstr("altered"));
}

TEST_F(AuditVerifyCommandTest, AnotherKeyExitsOne) {
  const ferry::test::ProcessOutcome r = ctl({"audit", "verify", "audit", "--pub", "other.pub"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("seq 6: checkpoint is signed by another key"));
}

TEST_F(AuditVerifyCommandTest, JsonSaysTheSameAsOneObject) {
  ferry::test::ProcessOutcome r = ctl({"audit", "verify", "audit", "--pub", "side.pub", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("{\"dir\":\"audit\",\"ok\":true,\"signatures_checked\":true,\"records\":14,"));
  EXPECT_THAT(r.out, HasSubstr("\"sealed_seq\":14,\"problem\":null"));

  std::ofstream(segment(), std::ios::app) << "{\"seq\":15}\n";
  r = ctl({"audit", "verify", "audit", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"ok\":false"));
  EXPECT_THAT(r.out, HasSubstr("\"line\":15,\"seq\":15,\"what\":\"not a valid record"));
}

TEST_F(AuditVerifyCommandTest, UsageErrorsExitTwo) {
  EXPECT_EQ(ctl({"audit", "verify"}).exit_code, 2);
  EXPECT_EQ(ctl({"audit", "verify", "audit", "audit"}).exit_code, 2);
  EXPECT_EQ(ctl({"audit", "verify", "audit", "--frobnicate"}).exit_code, 2);
  EXPECT_EQ(ctl({"audit", "verify", "audit", "--pub", "missing.pub"}).exit_code, 2);
  const ferry::test::ProcessOutcome r = ctl({"audit", "verify", "no-such-dir"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no-such-dir"));
  EXPECT_EQ(ctl({"audit", "verify", "--help"}).exit_code, 0);
}

}  // namespace

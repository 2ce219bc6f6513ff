// Anti-rollback's memory: the highest policy serial applied survives a
// reopen, a lower serial is refused naming both, an equal one is accepted,
// and a damaged record is an error rather than a fresh start.
#include "ferry/spool/applied_serial.h"

#include <sys/stat.h>

#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/spool/temp_tree.h"

namespace ferry::spool {
namespace {

using ::testing::HasSubstr;
using test::read_file;
using test::write_file;

class AppliedSerialTest : public ::testing::Test {
 protected:
  AppliedSerial open() {
    auto a = AppliedSerial::open(tree_.root());
    EXPECT_TRUE(a.ok()) << a.error().message;
    return std::move(a).value();
  }
  std::string record() const { return tree_.path("policy-serial"); }

  test::TempTree tree_;
};

TEST_F(AppliedSerialTest, NothingAppliedYetAcceptsAnySerial) {
  AppliedSerial a = open();
  EXPECT_FALSE(a.highest());
  EXPECT_TRUE(a.check(0).ok());
  EXPECT_EQ(a.path(), record());
  EXPECT_FALSE(test::stdfs::exists(record()));
}

TEST_F(AppliedSerialTest, AMissingSpoolIsNothingAppliedYet) {
  auto a = AppliedSerial::open(tree_.path("not-yet"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_FALSE(a->highest());
}

TEST_F(AppliedSerialTest, RecordedSerialSurvivesReopenAndOnlyGrows) {
  {
    AppliedSerial a = open();
    ASSERT_TRUE(a.record(7).ok());
    EXPECT_EQ(a.highest(), 7u);
    ASSERT_TRUE(a.record(5).ok());  // lower: not a new highest
    EXPECT_EQ(a.highest(), 7u);
  }
  EXPECT_EQ(read_file(record()), "ferry-policy-serial/1\n7\n");
  struct stat st;
  ASSERT_EQ(::stat(record().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  AppliedSerial again = open();
  EXPECT_EQ(again.highest(), 7u);
  EXPECT_TRUE(again.check(7).ok());  // the same policy after a restart
  EXPECT_TRUE(again.check(8).ok());
  ASSERT_TRUE(again.record(std::numeric_limits<policy::Serial>::max()).ok());
  EXPECT_EQ(open().highest(), std::numeric_limits<policy::Serial>::max());
}

TEST_F(AppliedSerialTest, ALowerSerialIsRefusedNamingBothSerialsAndTheRecord) {
  AppliedSerial a = open();
  ASSERT_TRUE(a.record(12).ok());
  crypto::Status s = a.check(11);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "policy serial 11 is lower than serial 12, the highest this side has applied (" +
                                   record() + "); rollback refused");
  EXPECT_FALSE(open().check(0).ok());
}

TEST_F(AppliedSerialTest, ADamagedRecordIsAnErrorNotAFreshStart) {
  const std::vector<std::string> damaged = {"", "7\n", "ferry-policy-serial/1\n", "ferry-policy-serial/1\n\n",
                                "ferry-policy-serial/1\n7", "ferry-policy-serial/1\n07\n",
                                "ferry-policy-serial/1\n-7\n", "ferry-policy-serial/1\n+7\n",
                                "ferry-policy-serial/1\n7 \n", "ferry-policy-serial/1\n7\n8\n",
                                "ferry-policy-serial/1\n18446744073709551616\n", "ferry-policy-serial/2\n7\n",
                                std::string("ferry-policy-serial/1\n7\0\n", 25), std::string(100, '9')};
  for (const std::string& bad : damaged) {
    SCOPED_TRACE(bad);
    write_file(record(), bad);
    auto a = AppliedSerial::open(tree_.root());
    ASSERT_FALSE(a.ok());
    EXPECT_THAT(a.error().message, HasSubstr(record() + ":"));
    if (bad.size() < 64) {
      EXPECT_THAT(a.error().message, HasSubstr("damaged record"));
    }
  }
}

TEST_F(AppliedSerialTest, ZeroIsAValidSerial) {
  write_file(record(), "ferry-policy-serial/1\n0\n");
  EXPECT_EQ(open().highest(), 0u);
}

}  // namespace
}  // namespace ferry::spool

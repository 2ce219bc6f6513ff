// `ferryctl av update` and `av info` as a system administrator uses them:
// real processes, signature files the test writes (EICAR by hash, and one
// that wrongly flags ordinary text), the reference config for --config.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/ctl_sandbox.h"
#include "tests/support/subprocess.h"

namespace {

using ::testing::HasSubstr;
namespace stdfs = std::filesystem;

const std::string kReferenceDir = FERRY_REFERENCE_DIR;

// ClamAV .hdb (md5:size:name of the EICAR test file) and .ndb
// (name:any file:anywhere:hex of "EICAR-STANDARD-ANTIVIRUS-TEST-FILE").
constexpr char kEicarHdb[] = "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n";
constexpr char kEicarNdb[] =
    "Ferry.Test.Eicar.Body:0:*:45494341522d5354414e444152442d414e544956495255532d544553542d46494c45\n";
// Matches "ferry antivirus test", the plain text every new database must pass.
constexpr char kFalsePositiveNdb[] = "Ferry.Test.FalsePositive:0:*:666572727920616e7469766972757320746573\n";

class AvCommandTest : public ferry::test::CtlSandbox {
 protected:
  void set_mtime_days_ago(const std::string& name, int days) {
    const std::time_t t = std::time(nullptr) - std::time_t{days} * 24 * 3600;
    const struct timespec times[2] = {{t, 0}, {t, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path(name).c_str(), times, 0), 0);
  }

  std::vector<std::string> entries(const std::string& dir) const {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(path(dir))) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  // The reference outer side's config, in the sandbox with the keys it
  // names; its antivirus.database is "avdb" beside it.
  void write_reference_config() {
    stdfs::copy_file(kReferenceDir + "/outer.yaml", path("outer.yaml"));
    stdfs::copy_file(kReferenceDir + "/policy.yaml", path("policy.yaml"));
    stdfs::create_directories(path("keys"));
    stdfs::create_directories(path("var"));
    for (const char* name : {"outer", "inner", "sysadmin", "secadmin", "secadmin2", "auditor"}) {
      const ferry::test::ProcessOutcome r = ctl({"keygen", "--out", std::string("keys/") + name});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
};

TEST_F(AvCommandTest, UpdateInstallsATestedDatabaseAndInfoDescribesIt) {
  write("update/eicar.hdb", kEicarHdb);
  write("update/eicar.ndb", kEicarNdb);
  ferry::test::ProcessOutcome r = ctl({"av", "update", "update", "--database", "clamav"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("installed 2 signatures"));
  EXPECT_THAT(r.out, HasSubstr("built "));
  EXPECT_EQ(read("clamav/eicar.hdb"), kEicarHdb);
  EXPECT_EQ(read("clamav/eicar.ndb"), kEicarNdb);
  EXPECT_EQ(entries("."), (std::vector<std::string>{"clamav", "update"}));

  r = ctl({"av", "info", "--database", "clamav"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("signatures: 2"));
  EXPECT_THAT(r.out, HasSubstr("fresh"));
}

TEST_F(AvCommandTest, AnUpdateThatFlagsPlainTextIsRefusedAndTheOldDatabaseKept) {
  write("good/eicar.hdb", kEicarHdb);
  ASSERT_EQ(ctl({"av", "update", "good", "--database", "clamav"}).exit_code, 0);

  write("bad/eicar.hdb", kEicarHdb);
  write("bad/eicar.ndb", kEicarNdb);
  write("bad/oops.ndb", kFalsePositiveNdb);
  ferry::test::ProcessOutcome r = ctl({"av", "update", "bad", "--database", "clamav"});
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  EXPECT_THAT(r.err, HasSubstr("refused"));
  EXPECT_THAT(r.err, HasSubstr("Ferry.Test.FalsePositive"));
  EXPECT_THAT(r.err, HasSubstr("unchanged"));
  EXPECT_EQ(entries("clamav"), (std::vector<std::string>{"eicar.hdb"}));
  EXPECT_EQ(read("clamav/eicar.hdb"), kEicarHdb);

  write("foreign/eicar.hdb", kEicarHdb);
  write("foreign/freshclam.dat", "state");
  r = ctl({"av", "update", "foreign", "--database", "clamav"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("freshclam.dat"));
  EXPECT_EQ(entries("clamav"), (std::vector<std::string>{"eicar.hdb"}));
}

TEST_F(AvCommandTest, InfoSaysWhenTheDatabaseIsStale) {
  write("clamav/eicar.hdb", kEicarHdb);
  set_mtime_days_ago("clamav/eicar.hdb", 45);
  ferry::test::ProcessOutcome r = ctl({"av", "info", "--database", "clamav"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("45 days old"));
  EXPECT_THAT(r.out, HasSubstr("stale"));

  r = ctl({"av", "info", "--database", "missing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("missing"));
}

TEST_F(AvCommandTest, ConfigNamesTheDatabase) {
  write_reference_config();
  write("update/eicar.hdb", kEicarHdb);
  ferry::test::ProcessOutcome r = ctl({"av", "update", "update", "--config", "outer.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(read("avdb/eicar.hdb"), kEicarHdb);
  // --config before the command, as for `status`.
  r = ctl({"--config", "outer.yaml", "av", "info"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(path("avdb")));
  EXPECT_THAT(r.out, HasSubstr("signatures: 1"));

  std::string config = read("outer.yaml");
  const std::size_t at = config.find("antivirus:");
  ASSERT_NE(at, std::string::npos);
  config.erase(at, config.find('\n', at) - at);
  write("no-av.yaml", config);
  r = ctl({"av", "update", "update", "--config", "no-av.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no antivirus database configured"));
}

TEST_F(AvCommandTest, UsageErrorsExitTwo) {
  write("update/eicar.hdb", kEicarHdb);
  EXPECT_EQ(ctl({"av"}).exit_code, 2);
  EXPECT_EQ(ctl({"av", "frobnicate"}).exit_code, 2);
  EXPECT_EQ(ctl({"av", "update", "update"}).exit_code, 2);  // no database named
  EXPECT_EQ(ctl({"av", "update", "--database", "clamav"}).exit_code, 2);  // no FROM
  EXPECT_EQ(ctl({"av", "update", "update", "--database", "clamav", "--config", "x.yaml"}).exit_code, 2);
  const ferry::test::ProcessOutcome r = ctl({"av", "update", "update", "--config", "nowhere.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("nowhere.yaml"));
  EXPECT_FALSE(stdfs::exists(path("clamav")));
  EXPECT_EQ(ctl({"av", "--help"}).exit_code, 0);
}

}  // namespace

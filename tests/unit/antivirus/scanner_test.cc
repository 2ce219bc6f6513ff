// The scanner against libclamav with signature databases the tests write
// themselves: EICAR by hash (.hdb) and by body (.ndb), a signature that
// flags ordinary text, malformed and stale databases; then the atomic
// install of a new database over an old one.
#include "ferry/antivirus/scanner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fixtures.h"

namespace {

using ferry::antivirus::DatabaseInfo;
using ferry::antivirus::Scanner;
using ferry::antivirus::ScannerOptions;
using ferry::antivirus::Verdict;
using ::testing::HasSubstr;
namespace stdfs = std::filesystem;

// The EICAR test file, assembled at run time so that this binary does not
// itself carry the 68 bytes a scanner on the build host would flag.
std::string eicar() {
  std::string tail = "*H+H$!ELIF-TSET-SURIVITNA-DRADNATS-RACIE";
  std::reverse(tail.begin(), tail.end());
  return std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + tail;
}

// ClamAV .hdb: MD5:size:name (md5 of the 68-byte EICAR file).
constexpr char kEicarHdb[] = "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n";
// ClamAV .ndb: name:target(0 = any file):offset(* = anywhere):hex body,
// here "EICAR-STANDARD-ANTIVIRUS-TEST-FILE", so EICAR is found inside other bytes.
constexpr char kEicarNdb[] =
    "Ferry.Test.Eicar.Body:0:*:45494341522d5354414e444152442d414e544956495255532d544553542d46494c45\n";
// A signature that matches test_database's plain text ("ferry antivirus test").
constexpr char kFalsePositiveNdb[] = "Ferry.Test.FalsePositive:0:*:666572727920616e7469766972757320746573:\n";

class ScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-av-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(root_); }

  // A database directory under the test's root with the given files.
  std::string database(const std::string& name, const std::map<std::string, std::string>& files) {
    const std::string dir = root_ + "/" + name;
    stdfs::create_directories(dir);
    for (const auto& [file, content] : files) std::ofstream(dir + "/" + file, std::ios::binary) << content;
    return dir;
  }

  std::unique_ptr<Scanner> load(const std::string& dir, const ScannerOptions& options = {}) {
    auto scanner = Scanner::load(dir, options);
    EXPECT_TRUE(scanner.ok()) << scanner.error().message;
    return scanner.ok() ? std::move(scanner).value() : nullptr;
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // name -> content of every file in dir.
  static std::map<std::string, std::string> snapshot(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : stdfs::directory_iterator(dir)) out[e.path().filename()] = read(e.path());
    return out;
  }

  std::vector<std::string> root_entries() const {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(root_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  static void set_mtime_days_ago(const std::string& path, int days) {
    const std::time_t t = std::time(nullptr) - std::time_t{days} * 24 * 3600;
    const struct timespec times[2] = {{t, 0}, {t, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }

  std::string root_;
};

TEST_F(ScannerTest, EicarByHashIsInfectedWithTheSignaturesName) {
  auto scanner = load(database("db", {{"eicar.hdb", kEicarHdb}}));
  ASSERT_TRUE(scanner);
  EXPECT_EQ(scanner->database().signatures, 1u);
  EXPECT_TRUE(scanner->stale().empty());
  const Verdict v = scanner->scan(eicar(), "eicar.com");
  EXPECT_EQ(v.kind, Verdict::infected) << v.detail;
  EXPECT_THAT(v.signature, HasSubstr("Eicar-Test-Signature"));
}

TEST_F(ScannerTest, EicarInsideAZipIsInfected) {
  auto scanner = load(database("db", {{"eicar.hdb", kEicarHdb}}));
  ASSERT_TRUE(scanner);
  const std::string zip = ferry::test::make_zip({{"readme.txt", "quarterly figures\n"}, {"tools/eicar.com", eicar()}});
  const Verdict v = scanner->scan(zip, "figures.zip");
  EXPECT_EQ(v.kind, Verdict::infected) << v.detail;
  EXPECT_THAT(v.signature, HasSubstr("Eicar-Test-Signature"));
}

TEST_F(ScannerTest, BodySignatureFindsEicarInsideOtherContent) {
  const std::string dir = database("db", {{"eicar.ndb", kEicarNdb}});
  auto scanner = load(dir);
  ASSERT_TRUE(scanner);
  const Verdict v = scanner->scan("minutes of the meeting\n" + eicar() + "\nend of minutes\n", "minutes.txt");
  EXPECT_EQ(v.kind, Verdict::infected) << v.detail;
  EXPECT_THAT(v.signature, HasSubstr("Ferry.Test.Eicar.Body"));

  // The hash alone does not see it: the file is not EICAR, it contains it.
  auto by_hash = load(database("hash", {{"eicar.hdb", kEicarHdb}}));
  ASSERT_TRUE(by_hash);
  EXPECT_EQ(by_hash->scan("minutes\n" + eicar() + "\n", "minutes.txt").kind, Verdict::clean);
}

TEST_F(ScannerTest, CleanTextAndEmptyObjectsAreClean) {
  auto scanner = load(database("db", {{"eicar.hdb", kEicarHdb}, {"eicar.ndb", kEicarNdb}}));
  ASSERT_TRUE(scanner);
  EXPECT_EQ(scanner->database().signatures, 2u);
  const Verdict v = scanner->scan("道路养护月报：本月完成路面修补 12 处。\n", "report.txt");
  EXPECT_EQ(v.kind, Verdict::clean) << v.detail;
  EXPECT_TRUE(v.signature.empty());
  EXPECT_EQ(scanner->scan("", "empty.txt").kind, Verdict::clean);
}

TEST_F(ScannerTest, OneEngineScansManyObjectsInTurn) {
  auto scanner = load(database("db", {{"eicar.hdb", kEicarHdb}}));
  ASSERT_TRUE(scanner);
  const std::string zip = ferry::test::make_zip({{"a.txt", "plain"}, {"b.com", eicar()}});
  for (int i = 0; i < 30; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(scanner->scan(eicar(), "eicar.com").kind, Verdict::infected);
    EXPECT_EQ(scanner->scan("plain text number " + std::to_string(i), "plain.txt").kind, Verdict::clean);
    EXPECT_EQ(scanner->scan(zip, "bundle.zip").kind, Verdict::infected);
  }
}

TEST_F(ScannerTest, ArchiveMembersGoToTheTempDirectoryAndDoNotStay) {
  auto scanner = load(database("db", {{"eicar.hdb", kEicarHdb}}));
  ASSERT_TRUE(scanner);
  const std::string tmp = root_ + "/worker-tmp";
  stdfs::create_directories(tmp);
  ASSERT_TRUE(scanner->set_temp_dir(tmp).ok());
  const std::string zip = ferry::test::make_zip({{"a.txt", "plain"}, {"b.com", eicar()}});
  EXPECT_EQ(scanner->scan(zip, "bundle.zip").kind, Verdict::infected);
  EXPECT_EQ(scanner->scan(ferry::test::make_zip({{"a.txt", "plain"}}), "clean.zip").kind, Verdict::clean);
  EXPECT_TRUE(stdfs::is_empty(tmp));

  const auto missing = scanner->set_temp_dir(root_ + "/no-such-dir");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("no-such-dir"));
}

TEST_F(ScannerTest, MissingEmptyAndMalformedDatabasesAreErrorsNamingTheirFiles) {
  const std::string missing = root_ + "/nowhere";
  auto r = Scanner::load(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ferry::crypto::Errc::io);
  EXPECT_THAT(r.error().message, HasSubstr(missing));

  const std::string empty = database("empty", {});
  r = Scanner::load(empty);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("no signatures in " + empty));

  // Files libclamav does not read are not signatures either.
  const std::string foreign = database("foreign", {{"README.txt", "signatures go here\n"}});
  r = Scanner::load(foreign);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("no signatures in " + foreign));

  const std::string broken = database("broken", {{"good.hdb", kEicarHdb}, {"local.hdb", "not-a-hash:x:\n"}});
  r = Scanner::load(broken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ferry::crypto::Errc::bad_format);
  EXPECT_THAT(r.error().message, HasSubstr(broken));
  EXPECT_THAT(r.error().message, HasSubstr("local.hdb"));
}

TEST_F(ScannerTest, AStaleDatabaseScansNothingAndSaysHowOld) {
  const std::string dir = database("db", {{"eicar.hdb", kEicarHdb}});
  set_mtime_days_ago(dir + "/eicar.hdb", 60);
  ScannerOptions options;
  options.max_age = std::chrono::hours{24 * 30};
  auto scanner = load(dir, options);
  ASSERT_TRUE(scanner);
  EXPECT_THAT(scanner->stale(), HasSubstr("60 days old"));
  EXPECT_THAT(scanner->stale(), HasSubstr("30 days"));
  const auto age = std::chrono::system_clock::now() - scanner->database().built;
  EXPECT_GE(age, std::chrono::hours{24 * 60 - 1});
  for (const std::string& bytes : {eicar(), std::string("clean words")}) {
    const Verdict v = scanner->scan(bytes, "x");
    EXPECT_EQ(v.kind, Verdict::not_scanned);
    EXPECT_THAT(v.detail, HasSubstr("60 days old"));
  }

  options.max_age = std::chrono::hours{0};  // no limit
  auto unlimited = load(dir, options);
  ASSERT_TRUE(unlimited);
  EXPECT_TRUE(unlimited->stale().empty());
  EXPECT_EQ(unlimited->scan(eicar(), "x").kind, Verdict::infected);
}

TEST_F(ScannerTest, ObjectsOverTheLimitsAreNotScanned) {
  ScannerOptions options;
  options.max_file_size = 64 * 1024;
  options.max_scan_size = 96 * 1024;
  options.max_files = 5;
  options.max_recursion = 3;
  auto scanner = load(database("db", {{"eicar.hdb", kEicarHdb}}), options);
  ASSERT_TRUE(scanner);
  Verdict v = scanner->scan(std::string(70 * 1024, 'a'), "big.txt");
  EXPECT_EQ(v.kind, Verdict::not_scanned);
  EXPECT_THAT(v.detail, HasSubstr("over the scanner's limits"));

  // Small archives that unpack past libclamav's own limits, reported
  // through CL_SCAN_HEURISTIC_EXCEEDS_MAX.
  const std::string two_members = ferry::test::make_zip(
      {{"a.bin", std::string(60 * 1024, '\0')}, {"b.bin", std::string(60 * 1024, '\1')}});
  ASSERT_LT(two_members.size(), options.max_file_size);
  v = scanner->scan(two_members, "two.zip");
  EXPECT_EQ(v.kind, Verdict::not_scanned);
  EXPECT_THAT(v.detail, HasSubstr("over the scanner's limits: Heuristics.Limits.Exceeded.MaxScanSize"));

  std::vector<ferry::test::ZipEntry> many;
  for (int i = 0; i < 20; ++i) many.push_back({"f" + std::to_string(i) + ".txt", "entry " + std::to_string(i)});
  v = scanner->scan(ferry::test::make_zip(many), "many.zip");
  EXPECT_EQ(v.kind, Verdict::not_scanned);
  EXPECT_THAT(v.detail, HasSubstr("Heuristics.Limits.Exceeded.MaxFiles"));

  std::string nested = "innermost";
  for (int depth = 0; depth < 6; ++depth) nested = ferry::test::make_zip({{"level" + std::to_string(depth), nested}});
  v = scanner->scan(nested, "nested.zip");
  EXPECT_EQ(v.kind, Verdict::not_scanned);
  EXPECT_THAT(v.detail, HasSubstr("Heuristics.Limits.Exceeded.MaxRecursion"));

  // Within the limits the same scanner still judges.
  EXPECT_EQ(scanner->scan(eicar(), "eicar.com").kind, Verdict::infected);
  EXPECT_EQ(scanner->scan(ferry::test::make_zip({{"a.txt", "fine"}}), "small.zip").kind, Verdict::clean);
}

TEST_F(ScannerTest, TestDatabaseRefusesASignatureThatFlagsOrdinaryText) {
  const std::string good = database("good", {{"eicar.hdb", kEicarHdb}, {"eicar.ndb", kEicarNdb}});
  auto info = ferry::antivirus::test_database(good);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->signatures, 2u);
  EXPECT_EQ(info->directory, good);

  const std::string bad = database("bad", {{"eicar.hdb", kEicarHdb}, {"oops.ndb", kFalsePositiveNdb}});
  info = ferry::antivirus::test_database(bad);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("Ferry.Test.FalsePositive"));
  EXPECT_THAT(info.error().message, HasSubstr("plain text"));

  // Staleness is not the test's business: an old but sane database passes.
  set_mtime_days_ago(good + "/eicar.hdb", 400);
  set_mtime_days_ago(good + "/eicar.ndb", 400);
  EXPECT_TRUE(ferry::antivirus::test_database(good).ok());
}

TEST_F(ScannerTest, InstallCreatesTheDatabaseWithTheFilesAndTheirDates) {
  const std::string from = database("update", {{"eicar.hdb", kEicarHdb}, {"eicar.ndb", kEicarNdb}});
  set_mtime_days_ago(from + "/eicar.hdb", 3);
  set_mtime_days_ago(from + "/eicar.ndb", 5);
  const std::string target = root_ + "/clamav";
  auto info = ferry::antivirus::install_database(from, target);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->directory, target);
  EXPECT_EQ(info->signatures, 2u);
  EXPECT_EQ(snapshot(target), snapshot(from));
  // The copy keeps the mtimes: the installed database is 3 days old, not new.
  auto scanner = load(target);
  ASSERT_TRUE(scanner);
  const auto age = std::chrono::system_clock::now() - scanner->database().built;
  EXPECT_GE(age, std::chrono::hours{3 * 24 - 1});
  EXPECT_LT(age, std::chrono::hours{3 * 24 + 1});
  EXPECT_EQ(scanner->scan(eicar(), "eicar.com").kind, Verdict::infected);
  EXPECT_EQ(root_entries(), (std::vector<std::string>{"clamav", "update"}));
}

TEST_F(ScannerTest, InstallReplacesTheOldDatabaseWhole) {
  const std::string target = database("clamav", {{"old.hdb", kEicarHdb}, {"old.ndb", kEicarNdb}});
  const std::string from = database("update", {{"new.ndb", kEicarNdb}});
  auto info = ferry::antivirus::install_database(from, target + "/");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->signatures, 1u);
  EXPECT_EQ(snapshot(target), (std::map<std::string, std::string>{{"new.ndb", kEicarNdb}}));
  // No sibling left behind: the old set went with the exchange's loser.
  EXPECT_EQ(root_entries(), (std::vector<std::string>{"clamav", "update"}));
}

TEST_F(ScannerTest, ARefusedUpdateLeavesTheOldDatabaseByteForByte) {
  const std::string target = database("clamav", {{"old.hdb", kEicarHdb}});
  set_mtime_days_ago(target + "/old.hdb", 2);
  const auto before = snapshot(target);
  const auto mtime_before = stdfs::last_write_time(target + "/old.hdb");

  const std::string bad = database("bad", {{"eicar.hdb", kEicarHdb}, {"oops.ndb", kFalsePositiveNdb}});
  auto info = ferry::antivirus::install_database(bad, target);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("Ferry.Test.FalsePositive"));
  EXPECT_THAT(info.error().message, HasSubstr(bad));  // FROM, not the staging copy
  EXPECT_THAT(info.error().message, ::testing::Not(HasSubstr(".new-")));

  const std::string malformed = database("malformed", {{"local.hdb", "zzz\n"}});
  info = ferry::antivirus::install_database(malformed, target);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr(malformed + "/local.hdb"));

  const std::string foreign = database("foreign", {{"eicar.hdb", kEicarHdb}, {"README.txt", "hello\n"}});
  info = ferry::antivirus::install_database(foreign, target);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("README.txt"));
  EXPECT_THAT(info.error().message, HasSubstr("not a ClamAV signature file"));

  const std::string nested = database("nested", {{"eicar.hdb", kEicarHdb}});
  stdfs::create_directories(nested + "/sub");
  info = ferry::antivirus::install_database(nested, target);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("not a regular file"));

  EXPECT_EQ(snapshot(target), before);
  EXPECT_EQ(stdfs::last_write_time(target + "/old.hdb"), mtime_before);
  EXPECT_EQ(root_entries(), (std::vector<std::string>{"bad", "clamav", "foreign", "malformed", "nested"}));
}

TEST_F(ScannerTest, InstallRemovesWhatACrashedInstallLeftBehind) {
  const std::string target = database("clamav", {{"old.hdb", kEicarHdb}});
  // A sibling named for a process that no longer exists (pid_max is at
  // most 2^22 on Linux, so this pid cannot be alive).
  const std::string leftover = database("clamav.new-999999999", {{"half.hdb", "44d8"}});
  const std::string from = database("update", {{"new.hdb", kEicarHdb}});
  auto info = ferry::antivirus::install_database(from, target);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_FALSE(stdfs::exists(leftover));
  EXPECT_EQ(root_entries(), (std::vector<std::string>{"clamav", "update"}));
}

}  // namespace

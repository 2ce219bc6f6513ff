// `ferryctl policy lint` and `ferryctl policy sign` as a security officer
// uses them: real processes, policies in a temp directory, exit codes and the
// messages that name file, line, column and key checked.
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/subprocess.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace stdfs = std::filesystem;

const std::string kReference = std::string(FERRY_REFERENCE_DIR) + "/policy.yaml";

// One valid file channel; tests append lines. Line numbers refer to this text.
constexpr std::string_view kMinimal =
    "schema: ferry-policy/1\n"  // 1
    "serial: 3\n"               // 2
    "channels:\n"               // 3
    "  - name: docs-in\n"       // 4
    "    direction: inbound\n"  // 5
    "    kind: file\n"          // 6
    "    allow_types: [pdf]\n"  // 7
    "    max_size: 1MiB\n";     // 8

class PolicyCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferryctl-policy-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  ferry::test::ProcessOutcome ctl(std::vector<std::string> args) {
    args.insert(args.begin(), FERRYCTL_PATH);
    ferry::test::ProcessOptions opts;
    opts.working_directory = dir_;
    return ferry::test::run_process(args, opts);
  }

  std::string path(const std::string& name) const { return (stdfs::path(dir_) / name).string(); }

  void write(const std::string& name, std::string_view content) {
    stdfs::create_directories(stdfs::path(path(name)).parent_path());
    std::ofstream(path(name), std::ios::binary) << content;
  }

  std::string read(const std::string& name) const {
    std::ifstream in(name.starts_with("/") ? name : path(name), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  void keygen(const std::string& prefix) {
    auto r = ctl({"keygen", "--out", prefix});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void copy_reference() { write("policy.yaml", read(kReference)); }

  std::string dir_;
};

TEST_F(PolicyCommandTest, HelpAndTopLevelListing) {
  auto r = ctl({"--help"});
  EXPECT_THAT(r.out, HasSubstr("policy"));
  r = ctl({"policy", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("usage: ferryctl policy lint"));
  EXPECT_EQ(ctl({"policy", "lint", "--help"}).exit_code, 0);
  EXPECT_EQ(ctl({"policy", "sign", "--help"}).exit_code, 0);
}

TEST_F(PolicyCommandTest, ReferencePolicyLintsCleanAndEveryChannelIsSummarised) {
  copy_reference();
  auto r = ctl({"policy", "lint", "policy.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, StartsWith("policy.yaml: valid ferry-policy/1, serial 7, 4 channels, 2 lists\n"));
  EXPECT_THAT(r.out,
              HasSubstr("  docs-in: inbound file, max_size 50MiB, allow_types 10, archives depth 2/entries 1000/ratio "
                        "100/expanded 500MiB, antivirus required, sanitize images,office,pdf,ofd, approval none\n"));
  EXPECT_THAT(r.out, HasSubstr("  release-out: outbound file, max_size 20MiB, allow_types 7"));
  EXPECT_THAT(r.out, HasSubstr("deny_keywords classified-markings,project-codenames, "
                               "pii cn_id,cn_mobile,uscc,bank_card->reject, approval required\n"));
  EXPECT_THAT(r.out, HasSubstr("  open-data-out: outbound file, max_size 100MiB, allow_types 3"));
  EXPECT_THAT(r.out, HasSubstr("pii cn_id,cn_mobile,bank_card->mask"));
  EXPECT_THAT(r.out, HasSubstr("  mobile-office: inbound request, max_size 2MiB, routes 3, response allow_types 3"));
  EXPECT_THAT(r.out, HasSubstr("  list classified-markings: 4 terms\n"));
}

TEST_F(PolicyCommandTest, TheUnchangedReferenceFileLintsClean) {
  auto r = ctl({"policy", "lint", kReference});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(PolicyCommandTest, EveryErrorIsPrintedWithLineAndColumn) {
  write("bad.yaml",
        "schema: ferry-policy/1\n"            // 1
        "serial: 1\n"                         // 2
        "colour: blue\n"                      // 3
        "lists:\n"                            // 4
        "  markings: [\"secret\"]\n"          // 5
        "channels:\n"                         // 6
        "  - name: docs-in\n"                 // 7
        "    direction: inbound\n"            // 8
        "    kind: file\n"                    // 9
        "    allow_types: [pdf]\n"            // 10
        "    max_size: 12XB\n"                // 11
        "    deny_keywords: [codenames]\n"    // 12
        "  - name: docs-in\n"                 // 13
        "    direction: inbound\n"            // 14
        "    kind: file\n"                    // 15
        "    allow_types: [pdf]\n"            // 16
        "    max_size: 1MiB\n");              // 17
  auto r = ctl({"policy", "lint", "bad.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:3:1: colour: unknown key \"colour\""));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:11:15: channels[docs-in].max_size: malformed size \"12XB\""));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:12:21: channels[docs-in].deny_keywords[0]: undefined keyword list "
                               "\"codenames\""));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:13:11: channels[docs-in].name: duplicate channel name \"docs-in\""));
  EXPECT_THAT(r.err, HasSubstr("ferryctl policy lint: bad.yaml: 4 errors; not a valid policy\n"));
  // One problem a line: four diagnostics and the count.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 5) << r.err;
}

TEST_F(PolicyCommandTest, ListFileIsRelativeToThePolicyNotTheWorkingDirectory) {
  write("conf/lists/codenames.txt", "# one term a line\nNIGHTJAR\nSKYFALL\n");
  write("conf/policy.yaml", std::string(kMinimal) +
                                "    deny_keywords: [codenames]\n"
                                "lists:\n"
                                "  codenames: { file: lists/codenames.txt }\n");
  auto r = ctl({"policy", "lint", "conf/policy.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("list codenames: 2 terms from "));
  EXPECT_THAT(r.out, HasSubstr("conf/lists/codenames.txt"));
  EXPECT_THAT(r.out, HasSubstr("deny_keywords codenames"));

  stdfs::remove(path("conf/lists/codenames.txt"));
  r = ctl({"policy", "lint", "conf/policy.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("conf/policy.yaml:11:"));
  EXPECT_THAT(r.err, HasSubstr("lists.codenames.file: cannot read list file "));
  EXPECT_THAT(r.err, HasSubstr("conf/lists/codenames.txt: No such file or directory"));
}

TEST_F(PolicyCommandTest, UsageErrorsAreOneLineAndExit2) {
  auto r = ctl({"policy"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("ferryctl policy: a subcommand is required"));
  r = ctl({"policy", "frob"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy: unknown subcommand 'frob' (lint or sign)\n");
  r = ctl({"policy", "lint"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy lint: a policy FILE is required\n");
  r = ctl({"policy", "lint", "--bogus", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy lint: unknown option '--bogus'\n");
  r = ctl({"policy", "lint", "missing.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy lint: missing.yaml: cannot read the policy: No such file or directory\n");
  write("p.yaml", kMinimal);
  r = ctl({"policy", "lint", "p.yaml", "--signers"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy lint: --signers needs at least one public key PUB\n");
  r = ctl({"policy", "sign", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy sign: --key KEY is required\n");
  r = ctl({"policy", "sign", "--key", "missing.key", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("missing.key"));
  EXPECT_FALSE(stdfs::exists(path("p.yaml.sig")));
}

TEST_F(PolicyCommandTest, SignThenLintWithTheRightSigner) {
  keygen("officer");
  keygen("other");
  copy_reference();
  auto r = ctl({"policy", "sign", "--key", "officer.key", "policy.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("wrote policy.yaml.sig (policy serial 7, sm3 "));
  auto linted = ctl({"policy", "lint", "policy.yaml", "--signers", "officer.pub"});
  ASSERT_EQ(linted.exit_code, 0) << linted.err;
  EXPECT_THAT(linted.out, HasSubstr("policy.yaml: valid ferry-policy/1, serial 7"));
  EXPECT_THAT(linted.out, HasSubstr("signature policy.yaml.sig: valid, by officer.pub (SM3 fingerprint "));

  // The fingerprint printed by sign is the one keygen printed for the key.
  stdfs::remove(path("officer.key"));
  stdfs::remove(path("officer.pub"));
  auto kg = ctl({"keygen", "--out", "officer"});
  ASSERT_EQ(kg.exit_code, 0);
  const std::string fp_line = kg.out.substr(kg.out.find("public key SM3 fingerprint: "));
  r = ctl({"policy", "sign", "--key", "officer.key", "policy.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("signer " + fp_line));

  // Any one of several signers will do.
  r = ctl({"policy", "lint", "policy.yaml", "--signers", "other.pub", "officer.pub"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("valid, by officer.pub"));
}

TEST_F(PolicyCommandTest, PolicySignatureIsTheSameAsFerryctlSignAndVerify) {
  keygen("officer");
  copy_reference();
  ASSERT_EQ(ctl({"policy", "sign", "--key", "officer.key", "policy.yaml"}).exit_code, 0);
  auto r = ctl({"verify", "--pub", "officer.pub", "--sig", "policy.yaml.sig", "policy.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(ctl({"sign", "--key", "officer.key", "policy.yaml"}).exit_code, 0);
  r = ctl({"policy", "lint", "policy.yaml", "--signers", "officer.pub"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(PolicyCommandTest, LintRejectsOtherSignerTamperingAndMissingSignature) {
  keygen("officer");
  keygen("intruder");
  copy_reference();
  ASSERT_EQ(ctl({"policy", "sign", "--key", "officer.key", "policy.yaml"}).exit_code, 0);

  auto r = ctl({"policy", "lint", "policy.yaml", "--signers", "intruder.pub"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "") << "nothing on stdout that could read as a pass";
  EXPECT_THAT(r.err, HasSubstr("policy.yaml.sig: policy.yaml is not signed by any of the given keys (intruder.pub"));

  // One byte changed after signing, still a valid policy: serial 7 -> 8.
  std::string text = read("policy.yaml");
  const std::size_t at = text.find("serial: 7");
  ASSERT_NE(at, std::string::npos);
  text[at + 8] = '8';
  write("policy.yaml", text);
  ASSERT_EQ(ctl({"policy", "lint", "policy.yaml"}).exit_code, 0);
  r = ctl({"policy", "lint", "policy.yaml", "--signers", "officer.pub"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("policy.yaml is not signed by any of the given keys (officer.pub"));

  stdfs::remove(path("policy.yaml.sig"));
  r = ctl({"policy", "lint", "policy.yaml", "--signers", "officer.pub"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy lint: policy.yaml.sig: missing signature file; policy.yaml is not signed\n");
}

TEST_F(PolicyCommandTest, GarbageSignatureIsMalformedNotJustInvalid) {
  keygen("officer");
  copy_reference();
  for (std::string_view garbage : {std::string_view("not a signature\n"), std::string_view("\x30\x02\x02\x00", 4),
                                   std::string_view("")}) {
    write("policy.yaml.sig", garbage);
    auto r = ctl({"policy", "lint", "policy.yaml", "--signers", "officer.pub"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err,
              "ferryctl policy lint: policy.yaml.sig: malformed signature (not a DER SM2 signature); policy.yaml is "
              "not validly signed\n");
  }
  // A real signature with a byte appended is not strict DER either.
  ASSERT_EQ(ctl({"policy", "sign", "--key", "officer.key", "policy.yaml"}).exit_code, 0);
  write("policy.yaml.sig", read("policy.yaml.sig") + "\n");
  auto r = ctl({"policy", "lint", "policy.yaml", "--signers", "officer.pub"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("malformed signature"));
}

TEST_F(PolicyCommandTest, SignRefusesAPolicyThatDoesNotLintAndWritesNoSignature) {
  keygen("officer");
  write("bad.yaml", std::string(kMinimal) + "    max_sise: 2MiB\n    antivirus: sometimes\n");
  auto r = ctl({"policy", "sign", "--key", "officer.key", "bad.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:9:5: channels[docs-in].max_sise: unknown key \"max_sise\""));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:10:16: channels[docs-in].antivirus:"));
  EXPECT_THAT(r.err, HasSubstr("ferryctl policy sign: bad.yaml: 2 errors; not a valid policy, not signed\n"));
  EXPECT_FALSE(stdfs::exists(path("bad.yaml.sig")));

  // An old signature of an earlier good version is left as it was, not replaced.
  write("good.yaml", kMinimal);
  ASSERT_EQ(ctl({"policy", "sign", "--key", "officer.key", "good.yaml"}).exit_code, 0);
  const std::string old_sig = read("good.yaml.sig");
  write("good.yaml", std::string(kMinimal) + "bogus: 1\n");
  EXPECT_EQ(ctl({"policy", "sign", "--key", "officer.key", "good.yaml"}).exit_code, 2);
  EXPECT_EQ(read("good.yaml.sig"), old_sig);
}

}  // namespace

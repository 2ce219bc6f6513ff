// `ferryctl policy lint`, `sign` and `diff` as a security officer
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

#include "tests/cli/ctl_sandbox.h"
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

class PolicyCommandTest : public ferry::test::CtlSandbox {
 protected:
  void keygen(const std::string& prefix) {
    auto r = ctl({"keygen", "--out", prefix});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void copy_reference() { write("policy.yaml", read(kReference)); }
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
  EXPECT_EQ(r.err, "ferryctl policy: unknown subcommand 'frob' (lint, sign or diff)\n");
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


// policy diff: the reference policy against edited copies of itself.
class PolicyDiffTest : public PolicyCommandTest {
 protected:
  void SetUp() override {
    PolicyCommandTest::SetUp();
    reference_ = read(kReference);
    write("old.yaml", reference_);
  }

  // The reference text with each `from` replaced by its `to`; each `from`
  // must occur exactly once, so that a test cannot edit the wrong place.
  std::string edited(std::vector<std::pair<std::string, std::string>> edits) {
    std::string text = reference_;
    for (const auto& [from, to] : edits) {
      const std::size_t at = text.find(from);
      EXPECT_NE(at, std::string::npos) << from;
      EXPECT_EQ(text.find(from, at + 1), std::string::npos) << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    }
    return text;
  }

  ferry::test::ProcessOutcome diff_against(const std::string& new_text) {
    write("new.yaml", new_text);
    return ctl({"policy", "diff", "old.yaml", "new.yaml"});
  }

  // The report's lines, without the closing count.
  static std::vector<std::string> lines(const std::string& out) {
    std::vector<std::string> v;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    if (!v.empty()) v.pop_back();
    return v;
  }

  std::string reference_;
};

using ::testing::ElementsAre;

TEST_F(PolicyDiffTest, IdenticalPoliciesHaveNoChanges) {
  auto r = diff_against(reference_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "no changes\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(PolicyDiffTest, LayoutCommentsKeyOrderAndSetOrderAreNotChanges) {
  auto r = diff_against(edited({
      {"# Reference exchange policy", "\n\n# Edited layout; reference exchange policy"},
      {"serial: 7                      # must grow", "serial:    7   # must grow"},
      {"    direction: inbound         # outer (extranet) -> inner (intranet)\n    kind: file\n",
       "    kind: file\n    direction: inbound\n"},
      {"allow_types: [pdf, ofd, docx, xlsx, pptx, txt, csv, png, jpeg, zip]",
       "allow_types:\n      - zip\n      - pdf\n      - ofd\n      - docx\n      - xlsx\n      - pptx\n"
       "      - txt\n      - csv\n      - png\n      - jpeg"},
      {"deny_keywords: [classified-markings, project-codenames]\n    pii: { detect: [cn_id, cn_mobile, uscc",
       "deny_keywords: [project-codenames, classified-markings]\n    pii: { action: reject, detect: [uscc, cn_id, "
       "cn_mobile"},
      {"bank_card], action: reject }", "bank_card] }"},
  }));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "no changes\n");
}

TEST_F(PolicyDiffTest, SerialAndNarrowingChangesAreUnmarked) {
  auto r = diff_against(edited({
      {"serial: 7 ", "serial: 8 "},
      {"allow_types: [pdf, ofd, docx, txt, csv, png, jpeg]", "allow_types: [pdf, ofd, txt, csv, png, jpeg]"},
      {"max_size: 20MiB", "max_size: 10MiB"},
      {"    max_size: 100MiB\n", "    max_size: 100MiB\n    approval: required\n"},
      {"pii: { detect: [cn_id, cn_mobile, bank_card], action: mask }",
       "pii: { detect: [cn_id, cn_mobile, bank_card, email], action: reject }"},
      {"    - \"PROJECT NIGHTJAR\"\n", "    - \"PROJECT NIGHTJAR\"\n    - \"PROJECT KESTREL\"\n"},
  }));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(lines(r.out), ElementsAre("serial 7 -> 8",  //
                                        "list project-codenames: +1 term (\"PROJECT KESTREL\")",
                                        "release-out: allow_types -docx",  //
                                        "release-out: max_size 20MiB -> 10MiB",
                                        "open-data-out: pii.action mask -> reject",  //
                                        "open-data-out: pii.detect +email",
                                        "open-data-out: approval none -> required"))
      << r.out;
  EXPECT_THAT(r.out, HasSubstr("\n7 changes, 0 widen what may cross (marked \"!\")\n"));
}

TEST_F(PolicyDiffTest, WideningChangesAreMarked) {
  auto r = diff_against(edited({
      {"allow_types: [pdf, ofd, docx, txt, csv, png, jpeg]", "allow_types: [pdf, ofd, docx, xlsx, txt, csv, png]"},
      {"max_size: 20MiB", "max_size: 100MiB"},
      {"    antivirus: required        # no scanner", "    antivirus: off        # no scanner"},
      {"archives: { max_depth: 2,", "archives: { max_depth: 5,"},
      {"    sanitize: [images, office, pdf, ofd]   # disarm", "    sanitize: [images, pdf, ofd]   # disarm"},
      {"    - \"秘密★\"\n", ""},
      {"pii: { detect: [cn_id, cn_mobile, bank_card], action: mask }",
       "pii: { detect: [cn_id, bank_card], action: mask }"},
      {"pii: { detect: [cn_id, cn_mobile, uscc, bank_card], action: reject }",
       "pii: { detect: [cn_id, cn_mobile, uscc, bank_card], action: mask }"},
      {"    approval: required         # a security officer", "    approval: none         # a security officer"},
  }));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(lines(r.out), ElementsAre("! list classified-markings: -1 term (\"秘密★\")",
                                        "! docs-in: archives.max_depth 2 -> 5",  //
                                        "! docs-in: antivirus required -> off",
                                        "! docs-in: sanitize -office",  //
                                        "! release-out: allow_types +xlsx -jpeg",
                                        "! release-out: max_size 20MiB -> 100MiB",
                                        "! release-out: pii.action reject -> mask",
                                        "! release-out: approval required -> none",
                                        "! open-data-out: pii.detect -cn_mobile"))
      << r.out;
  EXPECT_THAT(r.out, HasSubstr("\n9 changes, 9 widen what may cross (marked \"!\")\n"));
}

TEST_F(PolicyDiffTest, ChannelsAndListsAddedAndRemoved) {
  std::string text = edited({
      {"  # Open-data tables published outward", "  # gone"},
      {"  - name: open-data-out\n    direction: outbound\n    kind: file\n    allow_types: [csv, txt, json]\n"
       "    max_size: 100MiB\n    deny_keywords: [classified-markings, project-codenames]\n"
       "    pii: { detect: [cn_id, cn_mobile, bank_card], action: mask }\n",
       "  - name: stats-out\n    direction: outbound\n    kind: message\n    allow_types: [json]\n"
       "    max_size: 1MiB\n    deny_keywords: [staff-names]\n"},
      {"lists:\n", "lists:\n  staff-names: [\"Zhang Wei\", \"Li Na\", \"Wang Fang\", \"Liu Yang\"]\n"},
  });
  auto r = diff_against(text);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(lines(r.out),
              ElementsAre("list staff-names: added, 4 terms (\"Zhang Wei\", \"Li Na\", \"Wang Fang\", ...)",
                          "! channel stats-out: added (outbound message, max_size 1MiB, allow_types 1, antivirus "
                          "optional, deny_keywords staff-names, approval none)",
                          "channel open-data-out: removed"))
      << r.out;

  // And back again: the channel's return widens, the list's removal drops terms.
  write("old.yaml", text);
  r = diff_against(reference_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(lines(r.out), ElementsAre(StartsWith("! list staff-names: removed, 4 terms (\"Zhang Wei\""),
                                        StartsWith("! channel open-data-out: added (outbound file, max_size 100MiB"),
                                        "channel stats-out: removed"))
      << r.out;
}

TEST_F(PolicyDiffTest, KeywordListTermsAreCountedAndTheFirstFewShown) {
  auto r = diff_against(edited({
      {"    - \"绝密\"\n    - \"机密\"\n", "    - \"TOP SECRET\"\n    - \"SECRET\"\n"},
      {"    - \"OPERATION SKYFALL\"\n",
       "    - \"OPERATION SKYFALL\"\n    - \"A\"\n    - \"B\"\n    - \"C\"\n    - \"D\"\n    - \"E\"\n"},
  }));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(lines(r.out),
              ElementsAre("! list classified-markings: +2 terms (\"TOP SECRET\", \"SECRET\") "
                          "-2 terms (\"绝密\", \"机密\")",
                          "list project-codenames: +5 terms (\"A\", \"B\", \"C\", ...)"))
      << r.out;
}

TEST_F(PolicyDiffTest, DirectionKindKeywordsRoutesAndResponseChanges) {
  auto r = diff_against(edited({
      {"    direction: inbound         # outer", "    direction: outbound         # outer"},
      {"    kind: file\n    allow_types: [csv, txt, json]", "    kind: message\n    allow_types: [csv, txt, json]"},
      {"    deny_keywords: [classified-markings, project-codenames]\n    pii: { detect: [cn_id, cn_mobile, bank_card]",
       "    deny_keywords: [classified-markings]\n    pii: { detect: [cn_id, cn_mobile, bank_card]"},
      {"      - { method: GET,  path: \"/api/v1/notices\" }\n",
       "      - { method: DELETE, path: \"/api/v1/docs/{id}\" }\n"},
      {"allow_types: [json, pdf, ofd]", "allow_types: [json, pdf]"},
      {"pii: { detect: [cn_id, bank_card], action: mask }", "pii: { detect: [cn_id, bank_card, email], action: mask }"},
  }));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(lines(r.out), ElementsAre("! docs-in: direction inbound -> outbound",  //
                                        "! open-data-out: kind file -> message",
                                        "! open-data-out: deny_keywords -project-codenames",
                                        "! mobile-office: route +DELETE /api/v1/docs/{id}",
                                        "mobile-office: route -GET /api/v1/notices",
                                        "mobile-office: response.allow_types -ofd",
                                        "mobile-office: response.pii.detect +email"))
      << r.out;
}

TEST_F(PolicyDiffTest, PiiAddedOrRemovedAndAntivirusStrengthened) {
  auto r = diff_against(edited({
      {"    pii: { detect: [cn_id, cn_mobile, uscc, bank_card], action: reject }\n", ""},
      {"    max_size: 100MiB\n", "    max_size: 100MiB\n    antivirus: required\n"},
      {"    antivirus: required        # no scanner", "    antivirus: optional        # no scanner"},
  }));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(lines(r.out), ElementsAre("! docs-in: antivirus required -> optional",
                                        "! release-out: pii removed (was cn_id,cn_mobile,uscc,bank_card->reject)",
                                        "open-data-out: antivirus optional -> required"))
      << r.out;
}

TEST_F(PolicyDiffTest, AnInvalidPolicyIsExit2WithItsDiagnostics) {
  auto r = diff_against(edited({{"max_size: 20MiB", "max_size: 20MB"}, {"approval: required", "approval: maybe"}}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "") << "nothing on stdout that could read as a review";
  EXPECT_THAT(r.err, HasSubstr("new.yaml:38:15: channels[release-out].max_size: malformed size \"20MB\""));
  EXPECT_THAT(r.err, HasSubstr("new.yaml:43:15: channels[release-out].approval:"));
  EXPECT_THAT(r.err, HasSubstr("ferryctl policy diff: new.yaml: 2 errors; not a valid policy\n"));
  EXPECT_THAT(r.err, Not(HasSubstr("old.yaml")));

  // Either side: an invalid OLD is refused the same way.
  r = ctl({"policy", "diff", "new.yaml", "old.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("ferryctl policy diff: new.yaml: 2 errors; not a valid policy\n"));

  r = ctl({"policy", "diff", "old.yaml", "missing.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy diff: missing.yaml: cannot read the policy: No such file or directory\n");
  r = ctl({"policy", "diff", "old.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl policy diff: two policy files OLD NEW are required\n");
}

TEST_F(PolicyDiffTest, HelpNamesTheWideningMarker) {
  auto r = ctl({"policy", "diff", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("ferryctl policy diff OLD NEW"));
  EXPECT_THAT(r.out, HasSubstr("with \"! \" WIDENS what may cross"));
}

}  // namespace

// `ferryctl inspect` as a security officer uses it for a dry run: real
// processes, the reference policy unchanged, generated files in a temp
// directory; the JSON shape of the issue, exit codes, --out, and inputs left
// untouched.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fixtures.h"
#include "tests/cli/ctl_sandbox.h"
#include "tests/support/subprocess.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace stdfs = std::filesystem;

const std::string kReference = std::string(FERRY_REFERENCE_DIR) + "/policy.yaml";

class InspectCommandTest : public ferry::test::CtlSandbox {
 protected:
  static std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }

  // A policy whose open-data channel has no antivirus or disarm to wait for.
  void write_open_policy() {
    write("open.yaml",
          "schema: ferry-policy/1\n"
          "serial: 1\n"
          "lists:\n"
          "  marks: [\"绝密\"]\n"
          "channels:\n"
          "  - name: out\n"
          "    direction: outbound\n"
          "    kind: file\n"
          "    allow_types: [pdf, docx, txt, csv]\n"
          "    max_size: 1MiB\n"
          "    antivirus: off\n"
          "    deny_keywords: [marks]\n"
          "    pii: { detect: [cn_id], action: reject }\n"
          "    approval: required\n");
  }
};

TEST_F(InspectCommandTest, JsonHasOneObjectPerFileInOrderWithTheIssuesFields) {
  write_open_policy();
  write("a.pdf", ferry::test::make_pdf({"public notice"}));
  write("b.txt", "这是绝密文件\n");
  write("c.txt", "身份证 11010519491231002X\n");
  ferry::test::ProcessOutcome r = ctl({"inspect", "--policy", "open.yaml", "--channel", "out", "--json", "a.pdf", "b.txt", "c.txt"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::vector<std::string> out = lines(r.out);
  ASSERT_EQ(out.size(), 3u) << r.out;
  EXPECT_THAT(out[0], HasSubstr(R"({"file": "a.pdf", "verdict": "accept", "type": "pdf", "reasons": [], "removed": [], )"
                                R"("masked": [], "antivirus": null, "output_sm3": null, "sm3": ")"));
  EXPECT_THAT(out[0], HasSubstr(R"("output": null, "approval": "required"})"));
  EXPECT_THAT(out[1], HasSubstr(R"("file": "b.txt", "verdict": "reject", "type": "txt", "reasons": [{"code": "keyword.match", "detail": ")"));
  EXPECT_THAT(out[2], HasSubstr(R"("verdict": "reject")"));
  EXPECT_THAT(out[2], HasSubstr(R"({"code": "pii.cn_id")"));
  EXPECT_THAT(out[2], Not(HasSubstr("11010519491231002X")));  // the value is masked
}

TEST_F(InspectCommandTest, AllAcceptedExitsZeroAndOutWritesOnlyAcceptedFiles) {
  write_open_policy();
  const std::string docx = ferry::test::make_docx({"公开通知"});
  write("ok.docx", docx);
  write("bad.docx", ferry::test::make_docx({"绝密"}));
  stdfs::create_directories(path("checked"));
  ferry::test::ProcessOutcome r = ctl({"inspect", "--policy", "open.yaml", "--channel", "out", "--json", "--out", "checked", "ok.docx"});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr(R"("output": "checked/ok.docx")"));
  EXPECT_EQ(read("checked/ok.docx"), docx);
  EXPECT_EQ(read("ok.docx"), docx);  // the input is never modified

  r = ctl({"inspect", "--policy", "open.yaml", "--channel", "out", "--out", "checked", "bad.docx"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(stdfs::exists(path("checked/bad.docx")));
  EXPECT_THAT(r.out, HasSubstr("keyword.match"));  // the readable table names the code too
}

TEST_F(InspectCommandTest, TheReferencePolicyScansRebuildsAndMasks) {
  ferry::test::PdfOptions js;
  js.javascript = true;
  write("notice.pdf", ferry::test::make_pdf({"public notice"}, js));
  write("tool.pdf", std::string("MZ\x90\x00", 4) + std::string(4000, 'A'));
  // Without signatures, a channel that requires antivirus passes nothing.
  ferry::test::ProcessOutcome r =
      ctl({"inspect", "--policy", kReference, "--channel", "docs-in", "--json", "notice.pdf", "tool.pdf"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::vector<std::string> out = lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r.out;
  EXPECT_THAT(out[0], HasSubstr(R"("code": "antivirus.not_scanned")"));
  // An executable: unknown, or (its bytes also decode as BOM-less UTF-16)
  // a disagreement with libmagic; never text.
  EXPECT_THAT(out[1], ::testing::AnyOf(HasSubstr(R"("code": "type.unknown")"), HasSubstr(R"("code": "type.mismatch")")));

  // With a database (the EICAR test file by MD5): scanned, rebuilt, written.
  write("avdb/test.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n");
  stdfs::create_directories(path("out"));
  r = ctl({"inspect", "--policy", kReference, "--channel", "docs-in", "--av-db", "avdb", "--out", "out", "--json",
           "notice.pdf"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(R"("verdict": "accept", "type": "pdf")"));
  EXPECT_THAT(r.out, HasSubstr(R"("removed": ["/OpenAction)"));
  EXPECT_THAT(r.out, HasSubstr(R"("antivirus": "clean")"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr(R"("output_sm3": null)")));
  const std::string rebuilt = read("out/notice.pdf");
  EXPECT_EQ(rebuilt.rfind("%PDF-", 0), 0u);
  EXPECT_EQ(rebuilt.find("/JavaScript"), std::string::npos);
  EXPECT_NE(read("notice.pdf").find("/JavaScript"), std::string::npos);  // the input is never modified
  const std::string eicar = std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*";
  write("eicar.txt", eicar);
  r = ctl({"inspect", "--policy", kReference, "--channel", "docs-in", "--av-db", "avdb", "eicar.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("malware.eicar-test-signature"));

  // open-data-out masks personal data; the file written is the masked one.
  write("table.csv", "name,id\n张三,11010519491231002X\n");
  r = ctl({"inspect", "--policy", kReference, "--channel", "open-data-out", "--out", "out", "--json", "table.csv"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(R"("verdict": "accept", "type": "csv")"));
  EXPECT_THAT(r.out, HasSubstr(R"("masked": ["cn_id at line 2, column 4"])"));
  EXPECT_EQ(read("out/table.csv"), "name,id\n张三,110105********002X\n");
}

TEST_F(InspectCommandTest, UsageAndPolicyErrorsExitTwo) {
  write_open_policy();
  write("a.txt", "words");
  EXPECT_EQ(ctl({"inspect", "--channel", "out", "a.txt"}).exit_code, 2);
  EXPECT_EQ(ctl({"inspect", "--policy", "open.yaml", "--channel", "out"}).exit_code, 2);
  ferry::test::ProcessOutcome r = ctl({"inspect", "--policy", "open.yaml", "--channel", "nope", "a.txt"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no channel 'nope'"));
  write("broken.yaml", "schema: ferry-policy/1\nserial: x\n");
  r = ctl({"inspect", "--policy", "broken.yaml", "--channel", "out", "a.txt"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("broken.yaml:2:"));
  r = ctl({"inspect", "--policy", "open.yaml", "--channel", "out", "--json", "missing.txt", "a.txt"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr(R"("code": "object.unreadable")"));
  EXPECT_THAT(r.out, HasSubstr(R"("file": "a.txt", "verdict": "accept")"));  // the others are still inspected
  EXPECT_THAT(r.out, HasSubstr("missing.txt: No such file or directory"));
  stdfs::create_directories(path("folder"));
  r = ctl({"inspect", "--policy", "open.yaml", "--channel", "out", "--json", "folder"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("folder: not a regular file"));
}

}  // namespace

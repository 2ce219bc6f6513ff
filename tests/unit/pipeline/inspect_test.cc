// The content stages an officer relies on, one reason code at a time, with
// fixtures generated here (tests/support/fixtures.h). Each test states what
// a user would see: the verdict, the code and what the detail names.
#include "ferry/pipeline/inspect.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unicode/ucnv.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "ferry/pipeline/sniff.h"
#include "ferry/pipeline/zip.h"
#include "policy/policy.h"
#include "tests/support/fixtures.h"

namespace ferry::pipeline {
namespace {

using test::ZipEntry;

constexpr std::string_view kPolicy = R"(schema: ferry-policy/1
serial: 3
lists:
  marks: ["绝密", "机密", "OPERATION SKYFALL"]
channels:
  - name: open
    direction: inbound
    kind: file
    allow_types: [pdf, ofd, docx, xlsx, pptx, txt, csv, json, xml, png, jpeg, zip]
    max_size: 1MiB
    antivirus: off
    archives: { max_depth: 1, max_entries: 20, max_ratio: 50, max_expanded: 2MiB }
  - name: roomy
    direction: inbound
    kind: file
    allow_types: [txt, zip]
    max_size: 1MiB
    antivirus: off
    archives: { max_depth: 1, max_entries: 20, max_ratio: 10000, max_expanded: 64MiB }
  - name: big
    direction: inbound
    kind: file
    allow_types: [txt, zip]
    max_size: 8MiB
    antivirus: off
    archives: { max_depth: 1, max_entries: 20, max_ratio: 50, max_expanded: 2MiB }
  - name: checked
    direction: outbound
    kind: file
    allow_types: [pdf, ofd, docx, xlsx, pptx, txt, csv, json, xml, zip]
    max_size: 1MiB
    antivirus: off
    deny_keywords: [marks]
    pii: { detect: [cn_id, cn_mobile, uscc, bank_card, email], action: reject }
  - name: masked
    direction: outbound
    kind: file
    allow_types: [csv, txt, json]
    max_size: 1MiB
    antivirus: off
    pii: { detect: [cn_id], action: mask }
  - name: held
    direction: inbound
    kind: file
    allow_types: [pdf, txt, png, zip]
    max_size: 1MiB
    antivirus: required
    sanitize: [images, pdf]
  - name: narrow
    direction: inbound
    kind: file
    allow_types: [pdf]
    max_size: 1MiB
    antivirus: off
)";

class InspectTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    policy::PolicyLoad load = policy::load_policy_text(kPolicy, "test-policy.yaml", ".");
    ASSERT_TRUE(load.ok()) << (load.errors.empty() ? "" : load.errors.front().to_string());
    policy_ = new policy::Policy(std::move(*load.policy));
    crypto::Result<std::unique_ptr<Inspector>> in = Inspector::create(*policy_);
    ASSERT_TRUE(in.ok()) << in.error().message;
    inspector_ = in->release();
    ASSERT_EQ(inspector_->problem(), "");
  }
  static void TearDownTestSuite() {
    delete inspector_;
    delete policy_;
  }

  static Inspection run(std::string_view channel, std::string_view name, std::string_view bytes) {
    const policy::Channel* ch = policy_->find(channel);
    EXPECT_NE(ch, nullptr) << channel;
    return inspector_->inspect(*ch, name, bytes);
  }
  // The first reason's code, or "accept".
  static std::string verdict(std::string_view channel, std::string_view name, std::string_view bytes) {
    Inspection in = run(channel, name, bytes);
    return in.accepted() ? "accept" : in.reasons.front().code;
  }

  static policy::Policy* policy_;
  static Inspector* inspector_;
};
policy::Policy* InspectTest::policy_ = nullptr;
Inspector* InspectTest::inspector_ = nullptr;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Text in another encoding, converted by ICU.
std::string encode(std::string_view utf8, const char* charset) {
  UErrorCode e = U_ZERO_ERROR;
  std::string out(utf8.size() * 4 + 16, '\0');
  const int32_t n = ucnv_convert(charset, "UTF-8", out.data(), static_cast<int32_t>(out.size()), utf8.data(),
                                 static_cast<int32_t>(utf8.size()), &e);
  EXPECT_TRUE(U_SUCCESS(e)) << u_errorName(e);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// A [Content_Types].xml naming word/document.xml as a DOCX main part.
constexpr const char* kDocxContentTypes =
    R"(<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">)"
    R"(<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>)";

test::PdfOptions appended(std::string tail) {
  test::PdfOptions o;
  o.append = std::move(tail);
  return o;
}

test::PdfOptions broken_xref() {
  test::PdfOptions o;
  o.broken_xref = true;
  return o;
}

// --- type -------------------------------------------------------------------

TEST_F(InspectTest, EveryGeneratedTypeIsRecognisedAndAccepted) {
  struct Case {
    std::string name, bytes, type;
  } cases[] = {
      {"a.pdf", test::make_pdf({"Hello"}), "pdf"},
      {"a.docx", test::make_docx({"Hello"}), "docx"},
      {"a.xlsx", test::make_xlsx({{"a", "b"}}), "xlsx"},
      {"a.pptx", test::make_pptx({"Hello"}), "pptx"},
      {"a.ofd", test::make_ofd({"Hello"}), "ofd"},
      {"a.png", test::make_png(8, 8), "png"},
      {"a.jpg", test::make_jpeg(8, 8), "jpeg"},
      {"a.zip", test::make_zip({{"x.txt", "hello"}}), "zip"},
      {"a.txt", "plain words\n", "txt"},
      {"a.csv", "a,b\n1,2\n", "csv"},
      {"a.json", R"({"a": [1, 2, "x"]})", "json"},
      {"a.xml", "<?xml version=\"1.0\"?><r a=\"1\">t</r>", "xml"},
      {"empty.txt", "", "txt"},
  };
  for (const Case& c : cases) {
    Inspection in = run("open", c.name, c.bytes);
    EXPECT_TRUE(in.accepted()) << c.name << ": " << (in.reasons.empty() ? "" : in.reasons[0].code + " " + in.reasons[0].detail);
    EXPECT_EQ(in.type, c.type) << c.name;
  }
}

TEST_F(InspectTest, TextInEverySupportedEncodingIsText) {
  const std::string text = "公文 report 第一章\n";
  const std::string utf16le = encode(text, "UTF-16LE"), utf16be = encode(text, "UTF-16BE");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"utf-8", text},
      {"utf-8-bom", "\xEF\xBB\xBF" + text},
      {"utf-16le", "\xFF\xFE" + utf16le},
      {"utf-16be", "\xFE\xFF" + utf16be},
      {"utf-16le without BOM", utf16le},
      {"utf-16be without BOM", utf16be},
      {"gb18030", encode(text, "GB18030")},
  };
  for (const auto& [what, bytes] : cases) {
    Inspection in = run("open", "a.txt", bytes);
    EXPECT_TRUE(in.accepted()) << what << ": " << (in.reasons.empty() ? "" : in.reasons[0].detail);
    EXPECT_EQ(in.type, "txt") << what;
  }
}

TEST_F(InspectTest, BinaryThatIsNoKnownFormatIsTypeUnknown) {
  const std::string elf = std::string("\x7f" "ELF\x02\x01\x01", 7) + random_bytes(4000, 1);
  Inspection in = run("open", "tool.pdf", elf);
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.unknown");
  EXPECT_NE(in.reasons[0].detail.find("libmagic"), std::string::npos);
  EXPECT_EQ(verdict("open", "noise.txt", random_bytes(4096, 2)), "type.unknown");
  // The start of a DOS executable ("MZ" header) whose bytes also pair up
  // into valid BOM-less UTF-16 (CJK code units): libmagic's full opinion
  // keeps it from being text.
  const std::string mz = std::string("MZ\x90\x00", 4) + std::string(4000, 'A');
  const std::string got = verdict("open", "tool.txt", mz);
  EXPECT_TRUE(got == "type.mismatch" || got == "type.unknown") << got;
}

TEST_F(InspectTest, BrokenStructuresAreMalformedAndSayWhere) {
  const std::string pdf = test::make_pdf({"x"});
  const std::string png = test::make_png(4, 4);
  const std::string jpeg = test::make_jpeg(8, 8);
  std::string bad_crc = png;
  bad_crc[bad_crc.size() - 20] ^= 0x55;  // inside IDAT: its CRC no longer matches
  struct Case {
    std::string what, name, bytes, mentions;
  } cases[] = {
      {"PDF/ZIP polyglot", "a.pdf", test::make_pdf({"x"}, appended(test::make_zip({{"x.txt", "hi"}}))), "after the last %%EOF"},
      {"PDF cut short", "a.pdf", pdf.substr(0, pdf.size() / 2), "%%EOF"},
      {"PDF with a wrong startxref", "a.pdf", test::make_pdf({"x"}, broken_xref()), ""},
      {"PNG cut short", "a.png", png.substr(0, png.size() - 12), "IEND"},
      {"PNG with a bad CRC", "a.png", bad_crc, "CRC"},
      {"PNG with a file appended", "a.png", png + "PK\x03\x04 more", "after IEND"},
      {"JPEG with a file appended", "a.jpg", jpeg + "<script>", "after the end-of-image"},
      {"JPEG cut short", "a.jpg", jpeg.substr(0, jpeg.size() - 2), "truncated"},
      {"ZIP cut short", "a.zip", test::make_zip({{"x.txt", "hello"}}).substr(0, 40), "ZIP"},
      {"JSON that does not parse", "a.json", "{\"a\": [1, 2", "json"},
      {"XML that does not parse", "a.xml", "<r><unclosed></r>", "xml"},
  };
  for (const Case& c : cases) {
    Inspection in = run("open", c.name, c.bytes);
    ASSERT_FALSE(in.accepted()) << c.what;
    EXPECT_EQ(in.reasons[0].code, "type.malformed") << c.what << ": " << in.reasons[0].detail;
    EXPECT_NE(in.reasons[0].detail.find(c.mentions), std::string::npos) << c.what << ": " << in.reasons[0].detail;
  }
}

TEST_F(InspectTest, OoxmlAndOfdPackagesWithoutTheirMainPartAreMalformed) {
  const std::string no_main = test::make_zip({
      {"[Content_Types].xml", kDocxContentTypes},
      {"_rels/.rels", "<Relationships/>"},
  });
  Inspection in = run("open", "a.docx", no_main);
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.malformed");
  EXPECT_NE(in.reasons[0].detail.find("word/document.xml is missing"), std::string::npos) << in.reasons[0].detail;

  const std::string ofd = test::make_zip({
      {"OFD.xml", R"(<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0"><ofd:DocBody>)"
                  R"(<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>)"},
  });
  in = run("open", "a.ofd", ofd);
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.malformed");
  EXPECT_NE(in.reasons[0].detail.find("Doc_0/Document.xml"), std::string::npos) << in.reasons[0].detail;
}

// A ZIP of stored members written byte by byte (APPNOTE 4.3.7, 4.3.12,
// 4.3.16): no extra fields, so a member's data sits exactly where file(1)'s
// magic looks for an OpenDocument "mimetype" (offset 38).
std::string stored_zip(const std::vector<std::pair<std::string, std::string>>& members) {
  auto le = [](std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  std::string body, directory;
  for (const auto& [name, data] : members) {
    const auto crc = static_cast<std::uint32_t>(::crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    const std::size_t offset = body.size();
    le(body, 0x04034b50, 4); le(body, 20, 2); le(body, 0, 2); le(body, 0, 2); le(body, 0, 4);
    le(body, crc, 4); le(body, data.size(), 4); le(body, data.size(), 4); le(body, name.size(), 2); le(body, 0, 2);
    body += name;
    body += data;
    le(directory, 0x02014b50, 4); le(directory, 20, 2); le(directory, 20, 2); le(directory, 0, 2); le(directory, 0, 2);
    le(directory, 0, 4); le(directory, crc, 4); le(directory, data.size(), 4); le(directory, data.size(), 4);
    le(directory, name.size(), 2); le(directory, 0, 2); le(directory, 0, 2); le(directory, 0, 2); le(directory, 0, 2);
    le(directory, 0, 4); le(directory, offset, 4);
    directory += name;
  }
  std::string out = body + directory;
  le(out, 0x06054b50, 4); le(out, 0, 2); le(out, 0, 2); le(out, members.size(), 2); le(out, members.size(), 2);
  le(out, directory.size(), 4); le(out, body.size(), 4); le(out, 0, 2);
  return out;
}

TEST_F(InspectTest, APackageLibmagicSeesAsAnotherFormatIsAMismatch) {
  // An OpenDocument "mimetype" member first, an OOXML package behind it: one
  // program opens it as ODT, another as DOCX.
  const std::string both = stored_zip({
      {"mimetype", "application/vnd.oasis.opendocument.text"},
      {"[Content_Types].xml", kDocxContentTypes},
      {"_rels/.rels", "<Relationships/>"},
      {"word/document.xml", "<w:document/>"},
  });
  Inspection in = run("open", "a.docx", both);
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.mismatch");
  EXPECT_NE(in.reasons[0].detail.find("opendocument"), std::string::npos) << in.reasons[0].detail;
}

TEST_F(InspectTest, MacroDocumentsAreNotAllowedWhateverTheyAreCalled) {
  Inspection in = run("open", "report.docx", test::make_docx({"x"}, true));
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.not_allowed");
  EXPECT_EQ(in.type, "docm");
  EXPECT_NE(in.reasons[0].detail.find("macros"), std::string::npos) << in.reasons[0].detail;
}

TEST_F(InspectTest, ATypeTheChannelDoesNotListIsNotAllowed) {
  Inspection in = run("narrow", "a.json", R"({"a": 1})");
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.not_allowed");
  EXPECT_NE(in.reasons[0].detail.find("allow_types [pdf]"), std::string::npos) << in.reasons[0].detail;
}

TEST_F(InspectTest, AnExtensionThatClaimsAnotherTypeOrNoneIsRefused) {
  const std::string pdf = test::make_pdf({"x"});
  Inspection in = run("open", "letter.docx", pdf);
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.extension");
  EXPECT_NE(in.reasons[0].detail.find(".docx claims docx, the content is pdf"), std::string::npos) << in.reasons[0].detail;
  EXPECT_EQ(verdict("open", "letter", pdf), "type.extension");
  EXPECT_EQ(verdict("open", "letter.exe", pdf), "type.extension");
  EXPECT_EQ(verdict("open", "LETTER.PDF", pdf), "accept");
  // Text claiming a binary type is still refused by its name.
  EXPECT_EQ(verdict("open", "notes.png", "just words"), "type.extension");
}

TEST_F(InspectTest, WithoutLibmagicsDatabaseEveryObjectIsHeld) {
  // libmagic reads $MAGIC for its database; a missing one must fail closed.
  ::setenv("MAGIC", "/nonexistent/ferry-test.mgc", 1);
  crypto::Result<std::unique_ptr<Inspector>> broken = Inspector::create(*policy_);
  ::unsetenv("MAGIC");
  ASSERT_TRUE(broken.ok());
  EXPECT_NE((*broken)->problem(), "");
  Inspection in = (*broken)->inspect(*policy_->find("open"), "a.txt", "words");
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.unavailable");
}

// --- archives ---------------------------------------------------------------

TEST_F(InspectTest, ArchiveMembersGoThroughTheSamePipeline) {
  const std::string inner = test::make_zip({{"deep/b.pdf", test::make_pdf({"b"})}});
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"a.txt", "some text"}, {"in.zip", inner}, {"d/", "", ZipEntry::dir}})),
            "accept");
  Inspection in = run("open", "a.zip", test::make_zip({{"ok.txt", "some text"}, {"tool.pdf", std::string("\x7f" "ELF\x02\x01\x01", 7) + random_bytes(512, 3)}}));
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "type.unknown");
  EXPECT_NE(in.reasons[0].detail.find("a.zip/tool.pdf"), std::string::npos) << in.reasons[0].detail;
  EXPECT_EQ(verdict("narrow", "a.pdf", test::make_pdf({"x"})), "accept");
}

TEST_F(InspectTest, NestingBeyondMaxDepthIsRefused) {
  const std::string level2 = test::make_zip({{"c.txt", "x"}});
  const std::string level1 = test::make_zip({{"level2.zip", level2}});
  Inspection in = run("open", "a.zip", test::make_zip({{"level1.zip", level1}}));
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "archive.depth");
  EXPECT_NE(in.reasons[0].detail.find("max_depth is 1"), std::string::npos) << in.reasons[0].detail;
}

TEST_F(InspectTest, TooManyMembersOverAllLevelsIsRefused) {
  std::vector<ZipEntry> many;
  for (int i = 0; i < 21; ++i) many.push_back({"f" + std::to_string(i) + ".txt", "member text"});
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip(many)), "archive.entries");
  // 12 here and 12 inside: 24 members in all.
  std::vector<ZipEntry> twelve(many.begin(), many.begin() + 11);
  std::vector<ZipEntry> outer = twelve;
  outer.push_back({"in.zip", test::make_zip(twelve)});
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip(outer)), "archive.entries");
}

TEST_F(InspectTest, ZipBombsAreRefusedBeforeTheyExpand) {
  // By ratio: a megabyte of zeros deflates to about a kilobyte.
  Inspection in = run("open", "a.zip", test::make_zip({{"zeros.txt", std::string(1 << 20, '0')}}));
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "archive.ratio");
  EXPECT_NE(in.reasons[0].detail.find("max_ratio 50"), std::string::npos) << in.reasons[0].detail;
  // By total size: three incompressible members of 900 KiB.
  std::vector<ZipEntry> big;
  for (int i = 0; i < 3; ++i) big.push_back({"r" + std::to_string(i) + ".txt", std::string(900 << 10, 'a'), ZipEntry::file, {}, true});
  EXPECT_EQ(verdict("big", "a.zip", test::make_zip(big)), "archive.expanded");
}

TEST_F(InspectTest, AMemberLargerThanMaxSizeIsRefused) {
  Inspection in = run("roomy", "a.zip", test::make_zip({{"large.txt", std::string(2 << 20, 'x')}}));
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "size.too_large");
  EXPECT_NE(in.reasons[0].detail.find("large.txt"), std::string::npos);
}

TEST_F(InspectTest, MemberPathsThatEscapeAreRefused) {
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"../../etc/cron.d/x.txt", "x"}})), "archive.traversal");
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"a/../../x.txt", "x"}})), "archive.traversal");
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"..\\windows\\x.txt", "x"}})), "archive.traversal");
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"C:\\x.txt", "x"}})), "archive.absolute_path");
}

TEST_F(InspectTest, AbsoluteMemberPathsAreRefused) {
  // libarchive's writer strips a leading '/', so the name is set in the
  // bytes: "_tmp/x.txt" becomes "/tmp/x.txt" in both headers.
  std::string zip = test::make_zip({{"_tmp/x.txt", "x"}});
  for (std::size_t at = zip.find("_tmp/x.txt"); at != std::string::npos; at = zip.find("_tmp/x.txt", at + 1)) zip[at] = '/';
  EXPECT_EQ(verdict("open", "a.zip", zip), "archive.absolute_path");
}

TEST_F(InspectTest, LinksEncryptionAndDuplicatesAreRefused) {
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"l.txt", "", ZipEntry::symlink, "/etc/passwd"}})), "archive.link");
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"s.txt", "secret"}}, {.password = "pw"})), "archive.encrypted");
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"a.txt", "1"}, {"a.txt", "2"}})), "archive.duplicate");
  EXPECT_EQ(verdict("open", "a.zip", test::make_zip({{"A.TXT", "1"}, {"a.txt", "2"}})), "archive.duplicate");
}

TEST_F(InspectTest, MemberNamesFollowTheFileNameRule) {
  Inspection in = run("open", "a.zip", test::make_zip({{"bad\x01name.txt", "x"}}));
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "archive.name");
}

TEST_F(InspectTest, MemberNamesFromChineseWindowsArchiversAreReadAsGb18030) {
  // No UTF-8 flag, names in code page 936: what many archivers write.
  const std::string zip = stored_zip({{encode("公文/通知.txt", "GB18030"), encode("公开内容", "GB18030")}});
  Inspection in = run("open", "a.zip", zip);
  EXPECT_TRUE(in.accepted()) << (in.reasons.empty() ? "" : in.reasons[0].detail);
  // A member reason names it in UTF-8.
  const std::string bad = stored_zip({{encode("公文/通知.pdf", "GB18030"), "just text"}});
  in = run("open", "a.zip", bad);
  ASSERT_FALSE(in.accepted());
  EXPECT_NE(in.reasons[0].detail.find("公文/通知.pdf"), std::string::npos) << in.reasons[0].detail;
  // Neither UTF-8 nor GB18030.
  EXPECT_EQ(verdict("open", "a.zip", stored_zip({{"bad\x80\xff.txt", "x y"}})), "archive.name");
}

TEST_F(InspectTest, CorruptMemberDataIsMalformed) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "line " + std::to_string(i * 7919 % 1000) + " of the report\n";
  std::string zip = test::make_zip({{"a.txt", text}});
  // The deflate stream starts after the local header, its name and extra field.
  const std::size_t name_len = static_cast<unsigned char>(zip[26]) | static_cast<unsigned char>(zip[27]) << 8;
  const std::size_t extra_len = static_cast<unsigned char>(zip[28]) | static_cast<unsigned char>(zip[29]) << 8;
  const std::size_t data = 30 + name_len + extra_len;
  for (std::size_t k = 40; k < 60; ++k) zip[data + k] = static_cast<char>(zip[data + k] ^ 0x5a);
  Inspection in = run("roomy", "a.zip", zip);
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "archive.malformed") << in.reasons[0].detail;
}

TEST_F(InspectTest, OverlappingMembersAreMalformed) {
  // Two directory entries pointing at one local header: the non-recursive
  // zip bomb's trick. Made by copying the first central header.
  std::string zip = test::make_zip({{"a.txt", "hello"}, {"b.txt", "world"}}, {});
  const std::size_t cd = zip.find("PK\x01\x02");
  const std::size_t second = zip.find("PK\x01\x02", cd + 4);
  ASSERT_NE(second, std::string::npos);
  // Point the second member's local header offset (at +42) at the first's.
  for (int i = 0; i < 4; ++i) zip[second + 42 + i] = 0;
  EXPECT_EQ(verdict("open", "a.zip", zip), "type.malformed");
}

// --- text, keywords, personal data ------------------------------------------

TEST_F(InspectTest, KeywordsAreFoundThroughEvasionsAndInEveryFormat) {
  struct Case {
    std::string what, name, bytes;
  } cases[] = {
      {"plain", "a.txt", "这是绝密文件"},
      {"spaced", "a.txt", "这是绝 密文件"},
      {"zero-width", "a.txt", "这是机\u200b密文件"},
      {"full-width Latin", "a.txt", "ＯＰＥＲＡＴＩＯＮ　ＳＫＹＦＡＬＬ"},
      {"GB18030", "a.txt", encode("内容：机密", "GB18030")},
      {"UTF-16LE", "a.txt", "\xFF\xFE" + encode("内容：机密", "UTF-16LE")},
      {"docx", "a.docx", test::make_docx({"第一段", "这是机密"})},
      {"xlsx", "a.xlsx", test::make_xlsx({{"名称", "绝密"}})},
      {"pptx", "a.pptx", test::make_pptx({"封面", "机密材料"})},
      {"ofd", "a.ofd", test::make_ofd({"第一页", "绝密"})},
      {"pdf", "a.pdf", test::make_pdf({"intro", "Operation Skyfall begins"})},
      {"csv", "a.csv", "a,b\n1,\"绝密\"\n"},
      {"json", "a.json", R"({"k": "\u7edd\u5bc6"})"},
      {"xml", "a.xml", "<r note=\"机密\"/>"},
      {"in a zip", "a.zip", test::make_zip({{"d/x.txt", "机密"}})},
  };
  for (const Case& c : cases) {
    Inspection in = run("checked", c.name, c.bytes);
    ASSERT_FALSE(in.accepted()) << c.what;
    EXPECT_EQ(in.reasons[0].code, "keyword.match") << c.what << ": " << in.reasons[0].detail;
    EXPECT_NE(in.reasons[0].detail.find("list 'marks'"), std::string::npos) << in.reasons[0].detail;
  }
  EXPECT_EQ(verdict("checked", "a.txt", "公开的通知"), "accept");
}

TEST_F(InspectTest, TheKeywordReasonNamesThePlaceNotTheDocument) {
  Inspection in = run("checked", "a.txt", "第一行\n第二行有机密二字\n" + std::string(1000, 'z'));
  ASSERT_FALSE(in.accepted());
  EXPECT_NE(in.reasons[0].detail.find("line 2, column 5"), std::string::npos) << in.reasons[0].detail;
  EXPECT_EQ(in.reasons[0].detail.find("zzzz"), std::string::npos);
}

TEST_F(InspectTest, EachKindOfPersonalDataHasItsCode) {
  struct Case {
    std::string text, code;
  } cases[] = {
      {"身份证 11010519491231002X。", "pii.cn_id"},
      {"电话 13800138000", "pii.cn_mobile"},
      {"信用代码 91350100M000100Y43", "pii.uscc"},
      {"卡号 6222021234567890128", "pii.bank_card"},
      {"mail zhang.san@example.gov.cn", "pii.email"},
  };
  for (const Case& c : cases) {
    Inspection in = run("checked", "a.txt", c.text);
    ASSERT_FALSE(in.accepted()) << c.text;
    EXPECT_EQ(in.reasons[0].code, c.code) << c.text << ": " << in.reasons[0].detail;
  }
  // The detail shows where, masked, never the whole value.
  Inspection in = run("checked", "a.txt", "身份证 11010519491231002X");
  EXPECT_NE(in.reasons[0].detail.find("110105********002X"), std::string::npos) << in.reasons[0].detail;
  EXPECT_EQ(in.reasons[0].detail.find("11010519491231002X"), std::string::npos);
}

TEST_F(InspectTest, NumbersThatOnlyLookLikePersonalDataPass) {
  for (const std::string text : {"编号 110105194912310021", "订单 123456789012345678", "金额 13800138000000",
                                 "卡 6222021234567890127", "id: 11010519491331002X"}) {
    EXPECT_EQ(verdict("checked", "a.txt", text), "accept") << text;
  }
}

TEST_F(InspectTest, PersonalDataInStructuredFilesIsFound) {
  EXPECT_EQ(verdict("checked", "a.json", R"({"phone": 13800138000})"), "pii.cn_mobile");
  EXPECT_EQ(verdict("checked", "a.xlsx", test::make_xlsx({{"name"}})), "pii.cn_mobile");  // the numeric cell
  EXPECT_EQ(verdict("checked", "a.csv", "name,id\n张三,11010519491231002X\n"), "pii.cn_id");
  EXPECT_EQ(verdict("checked", "a.txt", "手机：１３８００１３８０００"), "pii.cn_mobile");  // full-width digits
}

TEST_F(InspectTest, PersonalDataToMaskIsNotAnObjectionButAMemberOfAnArchiveIs) {
  // The object itself: masked after inspection (ferry/sandbox/examine.h).
  Inspection in = run("masked", "a.csv", "name,id\n张三,11010519491231002X\n");
  EXPECT_TRUE(in.accepted());
  EXPECT_TRUE(in.to_mask);
  in = run("masked", "b.csv", "name,id\n张三,none\n");
  EXPECT_TRUE(in.accepted());
  EXPECT_FALSE(in.to_mask);
}

TEST_F(InspectTest, TextThatCannotBeReadFailsClosed) {
  // A DOCX whose document part is not XML: its text cannot be checked.
  const std::string docx = test::make_zip({
      {"[Content_Types].xml", kDocxContentTypes},
      {"_rels/.rels", "<Relationships/>"},
      {"word/document.xml", "<w:document><w:body><w:p>机密"},
  });
  Inspection in = run("checked", "a.docx", docx);
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "text.unreadable") << in.reasons[0].detail;
}

// --- what the examiner builds on ------------------------------------------

TEST_F(InspectTest, TheTypesOfTheObjectAndItsMembersAreReported) {
  // Antivirus, disarm and masking are the examiner's (ferry/sandbox); the
  // inspection tells it which types it met.
  Inspection in = run("held", "a.zip", test::make_zip({{"p.png", test::make_png(4, 4)}, {"t.txt", "words"}}));
  ASSERT_TRUE(in.accepted()) << in.reasons[0].detail;
  EXPECT_EQ(in.file_type, policy::FileType::zip);
  EXPECT_EQ(in.types, (std::set<policy::FileType>{policy::FileType::zip, policy::FileType::png, policy::FileType::txt}));
  in = run("held", "a.txt", std::string("\x7f" "ELF\x02\x01\x01", 7) + random_bytes(100, 4));
  ASSERT_EQ(in.reasons.size(), 1u);
  EXPECT_EQ(in.reasons[0].code, "type.unknown");
  EXPECT_FALSE(in.file_type.has_value());
}

TEST_F(InspectTest, TheCallersCheckSeesTheObjectAndEveryMemberAndCanStopTheWalk) {
  std::vector<std::string> seen;
  Inspector::ObjectCheck check = [&](const std::string& name, policy::FileType, std::string_view) -> std::optional<Reason> {
    seen.push_back(name);
    if (name.ends_with("bad.txt")) return Reason{"malware.test", name};
    return std::nullopt;
  };
  const std::string zip = test::make_zip({{"a.txt", "one"}, {"bad.txt", "two"}, {"c.txt", "three"}});
  Inspection in = inspector_->inspect(*policy_->find("held"), "x.zip", zip, Inspector::Rules::all, check);
  ASSERT_EQ(in.reasons.size(), 1u);
  EXPECT_EQ(in.reasons[0].code, "malware.test");
  EXPECT_EQ(seen, (std::vector<std::string>{"x.zip", "x.zip/a.txt", "x.zip/bad.txt"}));
}

TEST_F(InspectTest, StructureRulesSkipTheTextRules) {
  // The receiving side's re-check: type and archive, no keywords.
  const std::string text = "本文件为机密\n";
  EXPECT_FALSE(run("checked", "a.txt", text).accepted());
  Inspection in = inspector_->inspect(*policy_->find("checked"), "a.txt", text, Inspector::Rules::structure, {});
  EXPECT_TRUE(in.accepted());
}

// --- files ------------------------------------------------------------------

TEST_F(InspectTest, FilesAreReadWithinMaxSize) {
  Inspection in = inspector_->inspect_file(*policy_->find("open"), "gone.txt", "/nonexistent/ferry/gone.txt");
  ASSERT_FALSE(in.accepted());
  EXPECT_EQ(in.reasons[0].code, "object.unreadable");
}

}  // namespace
}  // namespace ferry::pipeline

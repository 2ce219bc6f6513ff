// Text extraction: what an officer relies on is that a keyword or an ID
// number in any accepted encoding or document type reaches the rules, and
// that bytes which are not what they claim are refused with a message that
// says why.
#include "ferry/pipeline/text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unicode/ucnv.h>

#include <stdexcept>

#include "tests/support/fixtures.h"

namespace ferry::pipeline {
namespace {

using policy::FileType;
using ::testing::HasSubstr;
using ::testing::Not;

const TextLimits kLimits;
constexpr const char* kChinese = "机密文件：身份证号 11010519491231002X，手机 13812345678。";

// The text in another encoding, produced by ICU (the test's own converter,
// independent of the decoder's detection).
std::string encode(const char* charset, std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  std::string out(utf8.size() * 4 + 8, '\0');
  const int32_t n = ucnv_convert(charset, "UTF-8", out.data(), static_cast<int32_t>(out.size()), utf8.data(),
                                 static_cast<int32_t>(utf8.size()), &status);
  if (U_FAILURE(status)) throw std::runtime_error("ucnv_convert failed");
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return s;
}

DecodedText decoded(std::string_view bytes) {
  crypto::Result<DecodedText> r = decode_text(bytes, kLimits);
  if (!r) throw std::runtime_error("decode_text: " + r.error().message);
  return *r;
}

std::string text_of(FileType type, std::string_view bytes, const TextLimits& limits = kLimits) {
  crypto::Result<std::string> r = extract_text(type, bytes, limits);
  if (!r) throw std::runtime_error("extract_text: " + r.error().message);
  return *r;
}

std::string error_of(FileType type, std::string_view bytes, const TextLimits& limits = kLimits) {
  crypto::Result<std::string> r = extract_text(type, bytes, limits);
  return r ? std::string("(accepted)") : r.error().message;
}

// ---- encodings ----

TEST(DecodeText, Utf8WithAndWithoutBom) {
  EXPECT_EQ(decoded(kChinese).utf8, kChinese);
  EXPECT_EQ(decoded(kChinese).encoding, "utf-8");
  const DecodedText bom = decoded(std::string("\xEF\xBB\xBF") + kChinese);
  EXPECT_EQ(bom.utf8, kChinese);
  EXPECT_EQ(bom.encoding, "utf-8-bom");
  EXPECT_EQ(decoded("plain ASCII\r\n\tand\fform feed").encoding, "utf-8");
  EXPECT_EQ(decoded("").utf8, "");
}

TEST(DecodeText, Utf16BothByteOrdersWithAndWithoutBom) {
  for (const char* text : {kChinese, "Confidential: 13812345678", "\xF0\x9F\x98\x80 emoji outside the BMP"}) {
    SCOPED_TRACE(text);
    const std::string le = encode("UTF-16LE", text);
    const std::string be = encode("UTF-16BE", text);
    EXPECT_EQ(decoded(std::string("\xFF\xFE") + le).encoding, "utf-16le");
    EXPECT_EQ(decoded(std::string("\xFF\xFE") + le).utf8, text);
    EXPECT_EQ(decoded(std::string("\xFE\xFF") + be).encoding, "utf-16be");
    EXPECT_EQ(decoded(std::string("\xFE\xFF") + be).utf8, text);
    // Without a BOM: the NULs of the ASCII-range code units tell the order.
    EXPECT_EQ(decoded(le).encoding, "utf-16le");
    EXPECT_EQ(decoded(le).utf8, text);
    EXPECT_EQ(decoded(be).encoding, "utf-16be");
    EXPECT_EQ(decoded(be).utf8, text);
  }
}

TEST(DecodeText, Utf16WithoutBomNulsOrAsciiIsReadBothWays) {
  // Not a byte of ASCII, so no NULs: GB18030 accepts these bytes too, and
  // the rules must see the UTF-16 reading.
  const std::string text = "绝密文件，请勿外传。";
  for (const char* order : {"UTF-16LE", "UTF-16BE"}) {
    SCOPED_TRACE(order);
    const std::string bytes = encode(order, text);
    ASSERT_EQ(bytes.find('\0'), std::string::npos);
    const DecodedText d = decoded(bytes);
    // GB18030 first and UTF-16 as the second reading, or UTF-16 alone when
    // the bytes are not GB18030 (in BE, the full-width comma FF0C puts 0xFF,
    // no GB lead byte, in front of a control).
    if (d.encoding == "gb18030") {
      EXPECT_EQ(d.alternative, text);
    } else {
      EXPECT_EQ(d.encoding, "utf-16" + lower(order).substr(6));
      EXPECT_EQ(d.utf8, text);
    }
    EXPECT_THAT(text_of(FileType::txt, bytes), HasSubstr(text));
  }
  // Bytes that are valid GB18030 as well: both readings reach the rules.
  const std::string both = encode("UTF-16LE", "机密文件内容");
  const DecodedText d = decoded(both);
  EXPECT_EQ(d.encoding, "gb18030");
  EXPECT_EQ(d.alternative, "机密文件内容");
  EXPECT_THAT(text_of(FileType::txt, both), HasSubstr("\n机密文件内容"));
  // Ordinary GBK text has no second reading.
  EXPECT_EQ(decoded(encode("GBK", "关于做好年度安全保密工作的通知")).alternative, "");
}

TEST(DecodeText, GbkAndGb18030) {
  const std::string gbk = encode("GBK", kChinese);
  ASSERT_NE(gbk, kChinese);
  EXPECT_EQ(decoded(gbk).encoding, "gb18030");
  EXPECT_EQ(decoded(gbk).utf8, kChinese);
  // A character GBK lacks: GB18030's four-byte form (U+20000, CJK Ext. B).
  const std::string ext_b = "\xF0\xA0\x80\x80 是扩展B区的字，普通的中文文本内容。";
  EXPECT_EQ(decoded(encode("GB18030", ext_b)).utf8, ext_b);
  EXPECT_EQ(decoded(encode("GB18030", "绝密")).utf8, "绝密");
}

TEST(DecodeText, GbkSentencesOfEveryLengthAreNotMistakenForAnotherEncoding) {
  const std::string sentences[] = {
      "关于做好年度安全保密工作的通知",
      "各单位：根据上级要求，现将有关事项通知如下。一、高度重视，加强组织领导。",
      "附件：人员名单（姓名、身份证号、联系电话）请于本周五前报送办公室。",
      "会议纪要\n时间：2026年11月27日\n地点：第三会议室\n主持人：王处长\n",
  };
  for (const std::string& text : sentences) {
    SCOPED_TRACE(text);
    EXPECT_EQ(decoded(encode("GBK", text)).utf8, text);
  }
}

TEST(DecodeText, Big5IsRefusedNotMisread) {
  // Traditional Chinese in Big5 decodes as GB18030 into unrelated characters;
  // uchardet recognises it and the decoder says so.
  const std::string big5 = encode("Big5", "機密文件，請勿外傳。本公司員工個人資料，包含身分證字號與電話號碼，僅供內部使用。");
  crypto::Result<DecodedText> r = decode_text(big5, kLimits);
  ASSERT_FALSE(r) << r->utf8;
  EXPECT_THAT(r.error().message, HasSubstr("BIG5"));
}

TEST(DecodeText, InvalidSequencesAreRefusedWithTheOffset) {
  crypto::Result<DecodedText> r = decode_text(std::string("\xEF\xBB\xBF") + "abc\xC3\x28" + "def", kLimits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, crypto::Errc::bad_format);
  EXPECT_THAT(r.error().message, HasSubstr("not valid text in UTF-8, UTF-16 or GB18030"));
  EXPECT_THAT(r.error().message, HasSubstr("offset 6"));
  // Lone surrogates, an odd length and an overlong UTF-8 form.
  EXPECT_FALSE(decode_text(std::string("\xFF\xFE" "a\0\x00\xD8" "b\0", 8), kLimits));
  EXPECT_FALSE(decode_text(std::string("\xFE\xFF\xDC\x00\x00\x61", 6), kLimits));
  EXPECT_FALSE(decode_text(std::string("\xFF\xFE" "a\0b", 5), kLimits));
  EXPECT_FALSE(decode_text(std::string("\xEF\xBB\xBF\xC0\xAF"), kLimits));
  // Neither UTF-8 nor GB18030: 0x80 and 0xFF are not GB lead bytes.
  r = decode_text("price \x80\xFF", kLimits);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("invalid byte"));
}

TEST(DecodeText, BinaryIsNotText) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  EXPECT_FALSE(decode_text(binary, kLimits));
  EXPECT_FALSE(decode_text(test::make_png(4, 4), kLimits));
  EXPECT_FALSE(decode_text(test::make_jpeg(4, 4), kLimits));
  crypto::Result<DecodedText> r = decode_text("text with a bell\a in it", kLimits);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("control character U+0007"));
  EXPECT_FALSE(decode_text(std::string("nul\0byte", 8), kLimits));
  EXPECT_FALSE(decode_text("escape \x1b[31m", kLimits));
  EXPECT_FALSE(decode_text("C1 \xC2\x85 control", kLimits));
}

TEST(DecodeText, TheTextLimitHolds) {
  TextLimits small;
  small.max_text = 10;
  crypto::Result<DecodedText> r = decode_text("eleven byte", small);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, crypto::Errc::exhausted);
  EXPECT_TRUE(decode_text("ten bytes!", small));
  // A long input crosses the decoder's internal slices intact.
  std::string big;
  while (big.size() < (std::size_t{3} << 20)) big += kChinese;
  EXPECT_EQ(decoded(big).utf8, big);
  EXPECT_EQ(decoded(encode("UTF-16LE", big)).utf8, big);
}

// ---- CSV ----

TEST(CsvText, EveryCellOnItsOwnLineWithRfc4180Quoting) {
  EXPECT_EQ(text_of(FileType::csv, "name,id\r\n张三,11010519491231002X\r\n"), "name\nid\n张三\n11010519491231002X\n");
  EXPECT_EQ(text_of(FileType::csv, "\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\"\nlast"),
            "a, b\nsay \"hi\"\ntwo\nlines\nlast\n");
  EXPECT_EQ(text_of(FileType::csv, ",,x,\n"), "x\n");
  EXPECT_EQ(text_of(FileType::csv, encode("GBK", "姓名,电话\n李四,13812345678\n")), "姓名\n电话\n李四\n13812345678\n");
}

TEST(CsvText, BrokenQuotingIsRefused) {
  EXPECT_THAT(error_of(FileType::csv, "a,\"never closed\nb,c\n"), HasSubstr("opened on line 1 never closes"));
  EXPECT_THAT(error_of(FileType::csv, "a,\"q\"x,b\n"), HasSubstr("text after a closing quote"));
}

// ---- JSON ----

TEST(JsonText, KeysStringsAndNumbersAsWritten) {
  const std::string json = R"({"name": "张三", "id": 110105194912310021, "phone": 13812345678,
    "tags": ["a", {"deep": [1.5e3, -0, true, false, null]}], "empty": {}})";
  EXPECT_EQ(text_of(FileType::json, json),
            "name\n张三\nid\n110105194912310021\nphone\n13812345678\ntags\na\ndeep\n1.5e3\n-0\nempty\n");
}

TEST(JsonText, EscapesIncludingSurrogatePairs) {
  EXPECT_EQ(text_of(FileType::json, R"(["\u673a\u5bc6", "\ud83d\ude00", "tab\tquote\"slash\/back\\"])"),
            "机密\n\xF0\x9F\x98\x80\ntab\tquote\"slash/back\\\n");
  EXPECT_THAT(error_of(FileType::json, R"(["\ud83d"])"), HasSubstr("surrogate"));
  EXPECT_THAT(error_of(FileType::json, R"(["\ude00"])"), HasSubstr("surrogate"));
  EXPECT_THAT(error_of(FileType::json, R"(["\x41"])"), HasSubstr("unknown escape"));
  EXPECT_THAT(error_of(FileType::json, "[\"raw\ttab\"]"), HasSubstr("control character"));
}

TEST(JsonText, StrictGrammar) {
  EXPECT_THAT(error_of(FileType::json, "{\"a\": 1} trailing"), HasSubstr("text after the JSON value"));
  EXPECT_THAT(error_of(FileType::json, "[1, 2,]"), HasSubstr("a value is expected"));
  EXPECT_THAT(error_of(FileType::json, "{a: 1}"), HasSubstr("key must be a string"));
  EXPECT_THAT(error_of(FileType::json, "[01]"), HasSubstr("expected"));
  EXPECT_THAT(error_of(FileType::json, "[1.]"), HasSubstr("decimal point"));
  EXPECT_THAT(error_of(FileType::json, "[tru]"), HasSubstr("unknown literal"));
  EXPECT_THAT(error_of(FileType::json, ""), HasSubstr("missing"));
  EXPECT_EQ(text_of(FileType::json, " 42 "), "42\n");
}

TEST(JsonText, NestingBeyondTheDepthLimitIsRefused) {
  const std::string ok = std::string(256, '[') + std::string(256, ']');
  EXPECT_EQ(text_of(FileType::json, ok), "");
  const std::string bomb = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THAT(error_of(FileType::json, bomb), HasSubstr("nesting deeper than 256"));
}

// ---- XML ----

TEST(XmlText, TextNodesAndAttributeValues) {
  const std::string xml = R"(<?xml version="1.0"?><r note="绝密"><a>first</a><b id="13812345678"><![CDATA[raw <text>]]></b>)"
                          R"(<c>&lt;escaped&gt; &#x673A;</c></r>)";
  EXPECT_EQ(text_of(FileType::xml, xml), "绝密\nfirst\n13812345678\nraw <text>\n<escaped> 机\n");
}

TEST(XmlText, EncodedAsGbkOrUtf16) {
  const std::string xml = "<?xml version=\"1.0\" encoding=\"GBK\"?><r>机密</r>";
  EXPECT_EQ(text_of(FileType::xml, encode("GBK", xml)), "机密\n");
  EXPECT_EQ(text_of(FileType::xml, "\xFF\xFE" + encode("UTF-16LE", "<r>机密</r>")), "机密\n");
}

TEST(XmlText, EntityDeclarationsAreRefused) {
  const std::string laughs = R"(<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>)"
                             R"(<lolz>&lol2;</lolz>)";
  EXPECT_THAT(error_of(FileType::xml, laughs), HasSubstr("declares entities"));
  const std::string external = R"(<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>)";
  EXPECT_THAT(error_of(FileType::xml, external), HasSubstr("declares entities"));
  // A DOCTYPE without declarations is harmless.
  EXPECT_EQ(text_of(FileType::xml, "<!DOCTYPE r><r>ok</r>"), "ok\n");
  EXPECT_THAT(error_of(FileType::xml, "<r><unclosed></r>"), HasSubstr("not well-formed XML"));
}

// ---- packages ----

TEST(PackageText, DocxParagraphsAndMoreParts) {
  const std::string text = text_of(FileType::docx, test::make_docx({"第一段 机密", "ID 11010519491231002X"}));
  EXPECT_THAT(text, HasSubstr("第一段 机密\nID 11010519491231002X\n"));
  EXPECT_THAT(text_of(FileType::docx, test::make_docx({"with a macro"}, true)), HasSubstr("with a macro"));
}

TEST(PackageText, DocxRunsJoinAndHiddenPartsAreRead) {
  // A word split over runs stays whole; a header and custom XML are read too.
  const std::string w = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"";
  const std::string doc = test::make_zip(
      {{"[Content_Types].xml", "<Types/>"},
       {"word/document.xml", "<w:document " + w + "><w:body><w:p><w:r><w:t>机</w:t></w:r><w:r><w:t>密</w:t></w:r>"
                             "</w:p><w:p><w:del><w:r><w:delText>deleted 13812345678</w:delText></w:r></w:del></w:p>"
                             "<w:drawing><wp:docPr xmlns:wp=\"x\" id=\"1\" name=\"pic\" descr=\"alt text\"/></w:drawing>"
                             "</w:body></w:document>"},
       {"word/header1.xml", "<w:hdr " + w + "><w:p><w:r><w:t>header words</w:t></w:r></w:p></w:hdr>"},
       {"customXml/item1.xml", "<data><secret>hidden value</secret></data>"}});
  const std::string text = text_of(FileType::docx, doc);
  EXPECT_THAT(text, HasSubstr("机密\n"));
  EXPECT_THAT(text, HasSubstr("deleted 13812345678\n"));
  EXPECT_THAT(text, HasSubstr("alt text\n"));
  EXPECT_THAT(text, HasSubstr("header words\n"));
  EXPECT_THAT(text, HasSubstr("hidden value\n"));
}

TEST(PackageText, APartDeclaredAsXmlIsReadWhateverItsName) {
  // Word finds the main part through the relationships and its content type,
  // not its name; so does the reader.
  const std::string doc = test::make_zip(
      {{"[Content_Types].xml",
        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
        "<Default Extension=\"dat\" ContentType=\"application/vnd.example+xml\"/>"
        "<Override PartName=\"/Word/Main.BIN\" ContentType=\"application/vnd.openxmlformats-officedocument."
        "wordprocessingml.document.main+xml\"/></Types>"},
       {"word/main.bin", "<w:document xmlns:w=\"w\"><w:p><w:r><w:t>renamed main part</w:t></w:r></w:p></w:document>"},
       {"word/extra.dat", "<x>by extension</x>"},
       {"word/media/image1.png", test::make_png(2, 2)}});
  const std::string text = text_of(FileType::docx, doc);
  EXPECT_THAT(text, HasSubstr("renamed main part\n"));
  EXPECT_THAT(text, HasSubstr("by extension\n"));
}

TEST(PackageText, XlsxSharedStringsAndNumbers) {
  const std::string text = text_of(FileType::xlsx, test::make_xlsx({{"姓名", "部门"}, {"张三", "机要处"}}));
  EXPECT_THAT(text, HasSubstr("姓名\n部门\n张三\n机要处\n"));
  EXPECT_THAT(text, HasSubstr("13800138000\n"));
}

TEST(PackageText, PptxSlides) {
  const std::string text = text_of(FileType::pptx, test::make_pptx({"slide one", "第二页 绝密"}));
  EXPECT_THAT(text, HasSubstr("slide one\n"));
  EXPECT_THAT(text, HasSubstr("第二页 绝密\n"));
}

TEST(PackageText, OfdPagesInOrder) {
  const std::string text = text_of(FileType::ofd, test::make_ofd({"第一页 机密", "page two 13812345678"}));
  const std::size_t first = text.find("第一页 机密\n");
  const std::size_t second = text.find("page two 13812345678\n");
  ASSERT_NE(first, std::string::npos) << text;
  ASSERT_NE(second, std::string::npos) << text;
  EXPECT_LT(first, second);
}

TEST(PackageText, OfdWithABrokenChainStillReadsEveryPage) {
  const std::string ofd = test::make_zip({{"OFD.xml", "<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:DocBody>"
                                                      "<ofd:DocRoot>../../elsewhere.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"},
                                          {"Doc_0/Pages/Page_0/Content.xml",
                                           "<ofd:Page xmlns:ofd=\"x\"><ofd:Content><ofd:Layer><ofd:TextObject>"
                                           "<ofd:TextCode>机</ofd:TextCode><ofd:TextCode>密</ofd:TextCode>"
                                           "</ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>"}});
  EXPECT_THAT(text_of(FileType::ofd, ofd), HasSubstr("机密\n"));
}

TEST(PackageText, APartBeyondTheLimitIsRefusedWhileReading) {
  TextLimits limits;
  limits.max_part = 1 << 20;
  // 8 MiB of one byte deflates to a few kilobytes; the reader must stop at 1 MiB.
  const std::string bomb = test::make_zip({{"[Content_Types].xml", "<Types/>"},
                                           {"word/document.xml", "<w:document>" + std::string(8 << 20, ' ') + "</w:document>"}});
  ASSERT_LT(bomb.size(), std::size_t{100000});
  crypto::Result<std::string> r = extract_text(FileType::docx, bomb, limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, crypto::Errc::exhausted);
  EXPECT_EQ(r.error().message, "part word/document.xml expands beyond 1MiB");
}

TEST(PackageText, ThePackageLimitHoldsOverAllParts) {
  TextLimits limits;
  limits.max_part = 1 << 20;
  limits.max_package = 2 << 20;
  const std::string part = "<x>" + std::string(900 << 10, 'a') + "</x>";
  const std::string three = test::make_zip({{"a.xml", part}, {"b.xml", part}, {"c.xml", part}});
  crypto::Result<std::string> r = extract_text(FileType::xlsx, three, limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the package's parts expand beyond 2MiB");
  EXPECT_TRUE(extract_text(FileType::xlsx, test::make_zip({{"a.xml", part}, {"b.xml", part}}), limits));
}

TEST(PackageText, TheTotalTextLimitHolds) {
  TextLimits limits;
  limits.max_text = 100;
  crypto::Result<std::string> r = extract_text(FileType::docx, test::make_docx({std::string(200, 'x')}), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, crypto::Errc::exhausted);
}

TEST(PackageText, BrokenOrEncryptedPackagesAreRefused) {
  EXPECT_THAT(error_of(FileType::docx, "PK\x03\x04 not really"), Not(HasSubstr("accepted")));
  EXPECT_THAT(error_of(FileType::docx, test::make_zip({{"word/document.xml", "<w:document><unclosed>"}})),
              HasSubstr("part word/document.xml: not well-formed XML"));
  test::ZipOptions locked;
  locked.password = "secret";
  EXPECT_THAT(error_of(FileType::docx, test::make_zip({{"word/document.xml", "<w:document/>"}}, locked)),
              HasSubstr("encrypted"));
  EXPECT_THAT(error_of(FileType::xlsx, test::make_zip({{"xl/x.xml", R"(<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>)"}})),
              HasSubstr("declares entities"));
}

// ---- PDF and the rest ----

TEST(PdfText, PageTextThroughPoppler) {
  const std::string text = text_of(FileType::pdf, test::make_pdf({"Confidential (draft)", "ID 11010519491231002X\nline two"}));
  EXPECT_THAT(text, HasSubstr("Confidential (draft)"));
  EXPECT_THAT(text, HasSubstr("ID 11010519491231002X"));
  EXPECT_THAT(text, HasSubstr("line two"));
  EXPECT_THAT(text_of(FileType::pdf, test::make_pdf({"caf\xC3\xA9"})), HasSubstr("caf\xC3\xA9"));
}

TEST(PdfText, ChineseTextThroughACidFont) {
  test::PdfOptions cjk;
  cjk.cjk = true;
  const std::string text = text_of(FileType::pdf, test::make_pdf({"绝密文件", "身份证号11010519491231002X"}, cjk));
  EXPECT_THAT(text, HasSubstr("绝密文件"));
  EXPECT_THAT(text, HasSubstr("身份证号11010519491231002X"));
}

TEST(PdfText, PageLimitAndUnreadableFiles) {
  TextLimits limits;
  limits.max_pdf_pages = 2;
  crypto::Result<std::string> r = extract_text(FileType::pdf, test::make_pdf({"1", "2", "3"}), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, crypto::Errc::exhausted);
  EXPECT_TRUE(extract_text(FileType::pdf, test::make_pdf({"1", "2"}), limits));
  EXPECT_THAT(error_of(FileType::pdf, "%PDF-1.7\ngarbage"), Not(HasSubstr("accepted")));
  test::PdfOptions locked;
  locked.password_protected = true;
  EXPECT_EQ(error_of(FileType::pdf, test::make_pdf({"secret"}, locked)), "the PDF is encrypted and needs a password to open");
}

TEST(OtherTypes, ImagesAndZipHaveNoTextOfTheirOwn) {
  EXPECT_EQ(text_of(FileType::png, test::make_png(2, 2, true)), "");
  EXPECT_EQ(text_of(FileType::jpeg, test::make_jpeg(2, 2)), "");
  EXPECT_EQ(text_of(FileType::zip, test::make_zip({{"a.txt", "机密"}})), "");
  EXPECT_EQ(text_of(FileType::txt, encode("GBK", "机密")), "机密");
}

}  // namespace
}  // namespace ferry::pipeline

namespace ferry::pipeline {
namespace {

TEST(CleanUtf8, AForbiddenByteIsFoundAtEveryPositionOfALongText) {
  // The check runs 32 and 8 bytes at a time; a bad byte must be seen
  // wherever it sits, and the allowed controls must pass.
  const std::string base = [] {
    std::string s;
    for (int i = 0; i < 160; ++i) s += static_cast<char>(i % 7 == 6 ? '\n' : i % 5 == 4 ? '\t' : 'a' + i % 26);
    return s;
  }();
  EXPECT_TRUE(is_clean_utf8(base));
  EXPECT_TRUE(is_clean_utf8(base + "\f\r中文"));
  for (std::size_t at = 0; at < base.size(); ++at) {
    for (const char bad : {'\x01', '\x1b', '\x7f', '\0'}) {
      std::string s = base;
      s[at] = bad;
      EXPECT_FALSE(is_clean_utf8(s)) << "byte " << int(bad) << " at " << at;
    }
    std::string high = base;
    high[at] = '\xC3';  // a lead byte with an ASCII byte after it: ill-formed
    EXPECT_FALSE(is_clean_utf8(high)) << at;
  }
}

}  // namespace
}  // namespace ferry::pipeline

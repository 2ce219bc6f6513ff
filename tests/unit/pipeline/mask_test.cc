// Personal-data masking ([disarm]): what the receiving side gets is the same
// object, byte for byte, except that every value is starred in place; the
// object still reads as its type; and where that cannot be done the object
// is refused rather than passed half masked.
#include "ferry/pipeline/mask.h"

#include <gtest/gtest.h>
#include <unicode/ucnv.h>

#include <string>

#include "ferry/pipeline/keywords.h"
#include "ferry/pipeline/pii.h"

namespace ferry::pipeline {
namespace {

using policy::FileType;
using policy::PiiKind;
const std::vector<PiiKind> kAll = {PiiKind::cn_id, PiiKind::cn_mobile, PiiKind::uscc, PiiKind::bank_card,
                                   PiiKind::email};

// Values that pass their validators (pii_test.cc checks the validators).
constexpr std::string_view kId = "11010519491231002X";     // GB 11643-1999 §6 example
constexpr std::string_view kIdDigits = "110105198001010016";
constexpr std::string_view kMobile = "13812345678";
constexpr std::string_view kCard = "6222021234567890128";
constexpr std::string_view kUscc = "91350100M000100Y43";

std::string convert(std::string_view text, const char* to, const char* from) {
  UErrorCode status = U_ZERO_ERROR;
  std::string out(text.size() * 4 + 8, '\0');
  const int32_t n = ucnv_convert(to, from, out.data(), static_cast<int32_t>(out.size()), text.data(),
                                 static_cast<int32_t>(text.size()), &status);
  EXPECT_TRUE(U_SUCCESS(status)) << u_errorName(status);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string utf16(std::string_view utf8, bool little_endian) {
  std::string out = convert(utf8, little_endian ? "UTF-16LE" : "UTF-16BE", "UTF-8");
  return out;
}

// What the inspection would still find in the text of an object.
std::vector<PiiMatch> left_in(FileType type, std::string_view bytes) {
  const crypto::Result<std::string> text = extract_text(type, bytes, {});
  EXPECT_TRUE(text.ok()) << text.error().message;
  if (!text) return {};
  const NormalisedText norm = normalise_for_keywords(*text);
  return find_pii(norm.text, kAll);
}

Masked masked_ok(FileType type, std::string_view bytes) {
  crypto::Result<Masked> r = mask_personal_data(type, bytes, kAll);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r) return {};
  EXPECT_TRUE(left_in(type, r->bytes).empty());
  return std::move(*r);
}

// ---------------------------------------------------------------------------
// The masked forms.

TEST(MaskValue, EachKindKeepsWhatAnOfficerNeedsToFindIt) {
  EXPECT_EQ(mask_value(PiiKind::cn_id, kId), "110105********002X");
  EXPECT_EQ(mask_value(PiiKind::cn_id, kIdDigits), "110105********0016");
  EXPECT_EQ(mask_value(PiiKind::cn_mobile, kMobile), "138****5678");
  EXPECT_EQ(mask_value(PiiKind::cn_mobile, "8613812345678"), "86138****5678");
  EXPECT_EQ(mask_value(PiiKind::bank_card, kCard), "622202*********0128");
  EXPECT_EQ(mask_value(PiiKind::bank_card, "4111111111111111"), "411111******1111");
  EXPECT_EQ(mask_value(PiiKind::uscc, kUscc), "9135************43");
  EXPECT_EQ(mask_value(PiiKind::email, "zhang.san@example.gov.cn"), "z***@example.gov.cn");
  EXPECT_EQ(mask_value(PiiKind::email, "a@b.cn"), "a***@b.cn");
}

TEST(MaskValue, SeparatorsStayAndOnlyValueCharactersCount) {
  // find_pii accepts a mobile number in 3-4-4 groups (spaces or hyphens);
  // the groups stay, and the first three digits are kept, not three characters.
  EXPECT_EQ(mask_value(PiiKind::cn_mobile, "138 1234 5678"), "138 **** 5678");
  EXPECT_EQ(mask_value(PiiKind::cn_mobile, "138-1234-5678"), "138-****-5678");
  // Bank cards are detected only unbroken, but a value handed over with
  // spaces is starred the same way.
  EXPECT_EQ(mask_value(PiiKind::bank_card, "6222 0212 3456 7890 128"), "6222 02** **** ***0 128");
}

TEST(MaskValue, FullWidthDigitsAreStarredFullWidth) {
  EXPECT_EQ(mask_value(PiiKind::cn_id, "１１０１０５１９４９１２３１００２Ｘ"), "１１０１０５＊＊＊＊＊＊＊＊００２Ｘ");
  EXPECT_EQ(mask_value(PiiKind::cn_mobile, "１３８１２３４５６７８"), "１３８＊＊＊＊５６７８");
}

// ---------------------------------------------------------------------------
// Plain text.

TEST(MaskText, ValuesAreStarredAndEveryOtherByteStays) {
  const std::string in = "姓名：张三\n身份证号 " + std::string(kId) + "，手机 " + std::string(kMobile) +
                         "\r\nUSCC " + std::string(kUscc) + "; mail zhang.san@example.gov.cn.\n";
  const Masked m = masked_ok(FileType::txt, in);
  EXPECT_EQ(m.bytes, "姓名：张三\n身份证号 110105********002X，手机 138****5678\r\nUSCC 9135************43; "
                     "mail z***@example.gov.cn.\n");
  EXPECT_EQ(m.masked, (std::vector<std::string>{"cn_id at line 2, column 6", "cn_mobile at line 2, column 28",
                                                "uscc at line 3, column 6", "email at line 3, column 31"}));
}

TEST(MaskText, OnlyTheKindsAskedForAreMasked) {
  const std::string in = "id " + std::string(kId) + " tel " + std::string(kMobile) + "\n";
  crypto::Result<Masked> r = mask_personal_data(FileType::txt, in, {PiiKind::cn_mobile});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->bytes, "id " + std::string(kId) + " tel 138****5678\n");
}

TEST(MaskText, WithoutPersonalDataTheBytesAreUnchanged) {
  for (const std::string& in : {std::string("nothing to see, order 12345 on 2024-01-02\n"), std::string(),
                                std::string("\xEF\xBB\xBFwith a BOM\n"), utf16("\xEF\xBB\xBFUTF-16 text\n", true),
                                convert("没有个人信息的中文文本，只有普通的句子。\n", "GB18030", "UTF-8")}) {
    crypto::Result<Masked> r = mask_personal_data(FileType::txt, in, kAll);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->bytes, in);
    EXPECT_TRUE(r->masked.empty());
  }
}

TEST(MaskText, FullWidthDigitsAreFoundAsTheInspectionFindsThem) {
  const std::string in = "身份证：１１０１０５１９４９１２３１００２Ｘ。电话 １３８-１２３４-５６７８\n";
  const Masked m = masked_ok(FileType::txt, in);
  EXPECT_EQ(m.bytes, "身份证：１１０１０５＊＊＊＊＊＊＊＊００２Ｘ。电话 １３８-＊＊＊＊-５６７８\n");
  EXPECT_EQ(m.masked, (std::vector<std::string>{"cn_id at line 1, column 5", "cn_mobile at line 1, column 27"}));
}

TEST(MaskText, Utf8BomIsKept) {
  const std::string in = "\xEF\xBB\xBFtel " + std::string(kMobile) + "\n";
  const Masked m = masked_ok(FileType::txt, in);
  EXPECT_EQ(m.bytes, "\xEF\xBB\xBFtel 138****5678\n");
}

TEST(MaskText, Utf16KeepsItsByteOrderAndBom) {
  const std::string text = "证件 " + std::string(kId) + " 电话 " + std::string(kMobile) + "\r\n";
  const std::string want = "证件 110105********002X 电话 138****5678\r\n";
  const std::string le_bom = "\xFF\xFE" + utf16(text, true);
  EXPECT_EQ(masked_ok(FileType::txt, le_bom).bytes, "\xFF\xFE" + utf16(want, true));
  const std::string be = utf16(text, false);  // no BOM: the NULs decide
  EXPECT_EQ(masked_ok(FileType::txt, be).bytes, utf16(want, false));
  const std::string be_bom = "\xFE\xFF" + utf16(text, false);
  EXPECT_EQ(masked_ok(FileType::txt, be_bom).bytes, "\xFE\xFF" + utf16(want, false));
}

TEST(MaskText, Gb18030StaysGb18030) {
  const std::string text =
      "关于张三同志的情况说明：该同志身份证号码为" + std::string(kId) + "，联系电话为" + std::string(kMobile) +
      "，工作单位为北京市东城区某某机关，现居住在北京市海淀区。特此说明。\n";
  const std::string in = convert(text, "GB18030", "UTF-8");
  const Masked m = masked_ok(FileType::txt, in);
  const std::string want =
      "关于张三同志的情况说明：该同志身份证号码为110105********002X，联系电话为138****5678，"
      "工作单位为北京市东城区某某机关，现居住在北京市海淀区。特此说明。\n";
  EXPECT_EQ(m.bytes, convert(want, "GB18030", "UTF-8"));
  const crypto::Result<DecodedText> again = decode_text(m.bytes, {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->encoding, "gb18030");
  EXPECT_EQ(again->utf8, want);
}

TEST(MaskText, Gb18030FourByteCharactersSurvive) {
  // Thai letters take four bytes each in GB18030 (GB 18030-2005 §6.3).
  std::string text = "联系人：";
  for (int i = 0; i < 40; ++i) text += "ภาษาไทย";
  text += "，电话" + std::string(kMobile) + "。\n";
  const std::string in = convert(text, "GB18030", "UTF-8");
  const crypto::Result<DecodedText> first = decode_text(in, {});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->encoding, "gb18030");
  const Masked m = masked_ok(FileType::txt, in);
  std::string want = text;
  want.replace(want.find(kMobile), kMobile.size(), "138****5678");
  EXPECT_EQ(m.bytes, convert(want, "GB18030", "UTF-8"));
}

// ---------------------------------------------------------------------------
// CSV.

TEST(MaskCsv, ColumnsQuotingAndLineEndsStay) {
  const std::string in =
      "name,id,tel,card\r\n"
      "\"Zhang, San\"," + std::string(kId) + "," + std::string(kMobile) + ",\"" + std::string(kCard) + "\"\r\n"
      "Li Si,\"" + std::string(kIdDigits) + "\",\"138 1234 5678\",4111111111111111\r\n"
      "\"say \"\"" + std::string(kMobile) + "\"\"\",x,,\r\n";
  const Masked m = masked_ok(FileType::csv, in);
  EXPECT_EQ(m.bytes,
            "name,id,tel,card\r\n"
            "\"Zhang, San\",110105********002X,138****5678,\"622202*********0128\"\r\n"
            "Li Si,\"110105********0016\",\"138 **** 5678\",411111******1111\r\n"
            "\"say \"\"138****5678\"\"\",x,,\r\n");
  // The same cells, in the same places.
  const crypto::Result<std::string> before = extract_text(FileType::csv, in, {});
  const crypto::Result<std::string> after = extract_text(FileType::csv, m.bytes, {});
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(std::count(before->begin(), before->end(), '\n'), std::count(after->begin(), after->end(), '\n'));
  EXPECT_EQ(m.masked.size(), 7u);
  EXPECT_EQ(m.masked[0], "cn_id at line 2, column 14");
}

// ---------------------------------------------------------------------------
// JSON.

TEST(MaskJson, StringsAreStarredAndNumbersBecomeStrings) {
  const std::string in = "{\"name\": \"张三\", \"id\": " + std::string(kIdDigits) + ",\n \"tel\":" +
                         std::string(kMobile) + ", \"card\": \"" + std::string(kCard) +
                         "\", \"note\": \"call\\n" + std::string(kMobile) + "\\t\",\n \"n\": [-" +
                         std::string(kMobile) + ".5e2, 12345678901234, true, null]}";
  const Masked m = masked_ok(FileType::json, in);
  EXPECT_EQ(m.bytes, "{\"name\": \"张三\", \"id\": \"110105********0016\",\n \"tel\":\"138****5678\", \"card\": "
                     "\"622202*********0128\", \"note\": \"call\\n138****5678\\t\",\n \"n\": [\"-138****5678.5e2\", "
                     "12345678901234, true, null]}");
  // Still JSON: ferry's own reader takes it, with the strings where they were.
  const crypto::Result<std::string> text = extract_text(FileType::json, m.bytes, {});
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_NE(text->find("110105********0016\n"), std::string::npos);
  EXPECT_EQ(m.masked, (std::vector<std::string>{"cn_id at line 1, column 22", "cn_mobile at line 2, column 8",
                                                "bank_card at line 2, column 30", "cn_mobile at line 2, column 67",
                                                "cn_mobile at line 3, column 9"}));
}

TEST(MaskJson, KeysAreMaskedToo) {
  const Masked m = masked_ok(FileType::json, "{\"" + std::string(kMobile) + "\": 1}");
  EXPECT_EQ(m.bytes, "{\"138****5678\": 1}");
}

TEST(MaskJson, AValueWrittenWithEscapesIsRefused) {
  // \u0031 is '1': the ID exists only after the escapes are resolved.
  const std::string in = "{\"id\": \"\\u00311010519491231002X\"}";
  const crypto::Result<Masked> r = mask_personal_data(FileType::json, in, kAll);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, crypto::Errc::bad_format);
  EXPECT_NE(r.error().message.find("escapes"), std::string::npos) << r.error().message;
  const std::string spaced = "{\"tel\": \"138\\u00201234 5678\"}";
  EXPECT_FALSE(mask_personal_data(FileType::json, spaced, kAll).ok());
}

TEST(MaskJson, InvalidJsonIsRefusedBeforeAnythingChanges) {
  const crypto::Result<Masked> r = mask_personal_data(FileType::json, "{\"tel\": " + std::string(kMobile), kAll);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, crypto::Errc::bad_format);
}

// ---------------------------------------------------------------------------
// XML.

TEST(MaskXml, TextAttributesAndCdataAreMasked) {
  const std::string in = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<person id=\"" + std::string(kId) +
                         "\">\n  <tel>" + std::string(kMobile) + "</tel>\n  <card><![CDATA[" + std::string(kCard) +
                         "]]></card>\n  <mail>a&amp;zhang@example.cn</mail>\n</person>\n";
  const Masked m = masked_ok(FileType::xml, in);
  EXPECT_EQ(m.bytes, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<person id=\"110105********002X\">\n  "
                     "<tel>138****5678</tel>\n  <card><![CDATA[622202*********0128]]></card>\n  "
                     "<mail>a&amp;z***@example.cn</mail>\n</person>\n");
}

TEST(MaskXml, AValueWrittenWithCharacterReferencesIsRefused) {
  for (const std::string_view in : {"<p>&#49;3812345678</p>", "<p t=\"&#x31;3812345678\"/>"}) {
    const crypto::Result<Masked> r = mask_personal_data(FileType::xml, in, kAll);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_EQ(r.error().code, crypto::Errc::bad_format);
    EXPECT_NE(r.error().message.find("cn_mobile"), std::string::npos) << r.error().message;
  }
}

TEST(MaskXml, AValueInAnElementNameIsRefusedNotBroken) {
  const std::string in = "<_" + std::string(kMobile) + ">x</_" + std::string(kMobile) + ">";
  const crypto::Result<Masked> r = mask_personal_data(FileType::xml, in, kAll);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no longer valid"), std::string::npos) << r.error().message;
}

// ---------------------------------------------------------------------------
// What cannot be masked, and limits.

TEST(MaskPersonalData, OtherTypesCannotBeMaskedSafely) {
  for (const FileType t : {FileType::pdf, FileType::ofd, FileType::docx, FileType::xlsx, FileType::pptx,
                           FileType::png, FileType::jpeg, FileType::zip}) {
    const crypto::Result<Masked> r = mask_personal_data(t, "tel " + std::string(kMobile), kAll);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, crypto::Errc::bad_format);
    EXPECT_EQ(r.error().message,
              "personal data in a " + std::string(policy::to_string(t)) + " cannot be masked safely");
  }
}

TEST(MaskPersonalData, TheTextLimitHolds) {
  TextLimits limits;
  limits.max_text = 64;
  const std::string in = std::string(100, 'x') + " " + std::string(kMobile);
  const crypto::Result<Masked> r = mask_personal_data(FileType::txt, in, kAll, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, crypto::Errc::exhausted);
  // A masked text may grow (a one-letter e-mail local part gets three stars);
  // the limit holds for the result too.
  limits.max_text = 10;
  const crypto::Result<Masked> grown = mask_personal_data(FileType::txt, "a@b.cn x", kAll, limits);
  ASSERT_FALSE(grown.ok());
  EXPECT_EQ(grown.error().code, crypto::Errc::exhausted);
}

TEST(MaskPersonalData, ManyValuesInALongText) {
  std::string in, want;
  for (int i = 0; i < 2000; ++i) {
    in += "row " + std::to_string(i) + ": " + std::string(kId) + ", " + std::string(kMobile) + "\n";
    want += "row " + std::to_string(i) + ": 110105********002X, 138****5678\n";
  }
  const Masked m = masked_ok(FileType::txt, in);
  EXPECT_EQ(m.bytes, want);
  EXPECT_EQ(m.masked.size(), 4000u);
  EXPECT_EQ(m.masked.back(), "cn_mobile at line 2000, column 31");
}

}  // namespace
}  // namespace ferry::pipeline

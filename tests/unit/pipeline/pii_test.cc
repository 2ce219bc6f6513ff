// Personal-data detection: what an officer relies on is that real IDs,
// numbers and codes are found where they stand, and look-alikes are not.
#include "ferry/pipeline/pii.h"

#include <gtest/gtest.h>

namespace ferry::pipeline {
namespace {

using policy::PiiKind;
constexpr int kToday = 20261127;
const std::vector<PiiKind> kAll = {PiiKind::cn_id, PiiKind::cn_mobile, PiiKind::uscc, PiiKind::bank_card,
                                   PiiKind::email};

std::vector<std::pair<PiiKind, std::string>> found(std::string_view text,
                                                   const std::vector<PiiKind>& kinds = kAll) {
  std::vector<std::pair<PiiKind, std::string>> out;
  for (const PiiMatch& m : find_pii(text, kinds)) out.emplace_back(m.kind, std::string(text.substr(m.offset, m.length)));
  return out;
}

TEST(CnId, TheStandardsExampleAndItsCheckCharacter) {
  EXPECT_TRUE(is_cn_id("11010519491231002X", kToday));  // GB 11643-1999 §6 example
  EXPECT_TRUE(is_cn_id("11010519491231002x", kToday));
  EXPECT_TRUE(is_cn_id("44030419900307123X", kToday));
  EXPECT_FALSE(is_cn_id("110105194912310021", kToday));  // wrong check digit
  EXPECT_FALSE(is_cn_id("11010519491231002", kToday));   // 17 characters
}

TEST(CnId, ADateThatDoesNotExistOrAnUnknownProvinceIsNotAnId) {
  // Same check arithmetic, impossible dates: 30 February, month 13, the future.
  auto with_check = [](std::string s17) {
    static constexpr int kW[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; ++i) sum += (s17[static_cast<std::size_t>(i)] - '0') * kW[i];
    return s17 + std::string(1, "10X98765432"[sum % 11]);
  };
  EXPECT_TRUE(is_cn_id(with_check("11010520000229001"), kToday));   // a leap day
  EXPECT_FALSE(is_cn_id(with_check("11010519000229001"), kToday));  // 1900 was not a leap year
  EXPECT_FALSE(is_cn_id(with_check("11010519490230001"), kToday));
  EXPECT_FALSE(is_cn_id(with_check("11010519491331001"), kToday));
  EXPECT_FALSE(is_cn_id(with_check("11010520301231001"), kToday));  // born after today
  EXPECT_FALSE(is_cn_id(with_check("99010519491231001"), kToday));  // no province 99
}

TEST(CnMobile, ElevenDigitsWithAMobilePrefix) {
  EXPECT_TRUE(is_cn_mobile("13812345678"));
  EXPECT_TRUE(is_cn_mobile("8619912345678"));
  EXPECT_FALSE(is_cn_mobile("12812345678"));  // 12x is not a mobile range
  EXPECT_FALSE(is_cn_mobile("1381234567"));
}

TEST(Uscc, PublishedCodesAndTheirCheckCharacter) {
  EXPECT_TRUE(is_uscc("91350100M000100Y43"));
  EXPECT_TRUE(is_uscc("91110000600037341L"));
  EXPECT_FALSE(is_uscc("91350100M000100Y44"));  // wrong check
  EXPECT_FALSE(is_uscc("91350100M000100I43"));  // I is not in the alphabet
  EXPECT_FALSE(is_uscc("B1350100M000100Y43"));  // no registration authority B
}

TEST(BankCard, LuhnAndAKnownIssuer) {
  EXPECT_TRUE(is_bank_card("6222021234567890128"));  // UnionPay, 19 digits
  EXPECT_TRUE(is_bank_card("4111111111111111"));     // Visa test number
  EXPECT_FALSE(is_bank_card("6222021234567890127"));  // Luhn fails
  EXPECT_FALSE(is_bank_card("1111111111111117"));     // Luhn holds, no such issuer
  EXPECT_FALSE(is_bank_card("411111111111111"));      // 15 digits
}

TEST(Email, AddressesAndNotAddresses) {
  EXPECT_TRUE(is_email("zhang.san@example.gov.cn"));
  EXPECT_TRUE(is_email("a+b@mail.example.com"));
  EXPECT_FALSE(is_email("@example.com"));
  EXPECT_FALSE(is_email("a@b"));
  EXPECT_FALSE(is_email("a@example.c0m"));
  EXPECT_FALSE(is_email("a..@example.com."));
}

TEST(FindPii, EachKindInChineseTextWithItsPlace) {
  const std::string text =
      "申请人张三，身份证号11010519491231002X，手机13812345678，单位代码91350100M000100Y43，"
      "卡号6222021234567890128，邮箱zhang.san@example.gov.cn。";
  const auto got = found(text);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], std::make_pair(PiiKind::cn_id, std::string("11010519491231002X")));
  EXPECT_EQ(got[1], std::make_pair(PiiKind::cn_mobile, std::string("13812345678")));
  EXPECT_EQ(got[2], std::make_pair(PiiKind::uscc, std::string("91350100M000100Y43")));
  EXPECT_EQ(got[3], std::make_pair(PiiKind::bank_card, std::string("6222021234567890128")));
  EXPECT_EQ(got[4], std::make_pair(PiiKind::email, std::string("zhang.san@example.gov.cn")));
  const std::vector<PiiMatch> m = find_pii(text, kAll);
  EXPECT_EQ(text.substr(m[0].offset, m[0].length), "11010519491231002X");
}

TEST(FindPii, OnlyTheKindsAskedFor) {
  const std::string text = "13812345678 11010519491231002X";
  const auto got = found(text, {PiiKind::cn_mobile});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, PiiKind::cn_mobile);
}

TEST(FindPii, LookAlikesAreNotReported) {
  // An 18-digit order number with a wrong check digit, a number embedded in
  // a longer run, a serial with letters around it, a 12-digit number.
  EXPECT_TRUE(found("订单号 110105194912310021 已发货").empty());
  EXPECT_TRUE(found("1381234567899").empty());
  EXPECT_TRUE(found("SN13812345678X").empty());
  EXPECT_TRUE(found("138123456789").empty());
  EXPECT_TRUE(found("共计 4111111111111112 元").empty());
}

TEST(FindPii, MobileNumbersWrittenInGroupsAndWithACountryCode) {
  const auto got = found("电话：138 1234 5678 或 139-1234-5678 或 +8613712345678");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].second, "138 1234 5678");
  EXPECT_EQ(got[1].second, "139-1234-5678");
  EXPECT_EQ(got[2].second, "8613712345678");
}

TEST(FindPii, AnAddressEndingASentenceLosesTheFullStop) {
  const auto got = found("write to li.si@example.cn.", {PiiKind::email});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, "li.si@example.cn");
}

}  // namespace
}  // namespace ferry::pipeline

namespace ferry::pipeline {
namespace {

TEST(FindPii, ValuesAreFoundAtEveryAlignmentAfterAsciiAndChineseText) {
  // The scan jumps eight bytes at a time to the next digit: a value must be
  // found wherever it starts, after ASCII words or multi-byte characters.
  for (std::size_t pad = 0; pad < 24; ++pad) {
    for (const std::string& filler : {std::string(pad, 'w'), std::string(pad / 3 + 1, ' ') + [&] {
           std::string cjk;
           for (std::size_t k = 0; k < pad; ++k) cjk += "字";
           return cjk;
         }()}) {
      const std::string text = filler + " 11010519491231002X and 13800138000";
      const std::vector<PiiMatch> got = find_pii(text, {policy::PiiKind::cn_id, policy::PiiKind::cn_mobile});
      ASSERT_EQ(got.size(), 2u) << "pad " << pad;
      EXPECT_EQ(text.substr(got[0].offset, got[0].length), "11010519491231002X");
      EXPECT_EQ(text.substr(got[1].offset, got[1].length), "13800138000");
    }
  }
}

}  // namespace
}  // namespace ferry::pipeline

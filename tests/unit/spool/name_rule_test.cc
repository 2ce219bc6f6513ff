// The safe-file-name rule and the deterministic collision suffix.
#include "ferry/spool/name_rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/spool/delivery.h"

namespace ferry::spool {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(NameRuleTest, AcceptsOrdinaryChineseAndSpacedNames) {
  const std::vector<std::string> good = {
      "report.pdf",
      "二〇二四年度工作总结/第一季度 报告.docx",
      "a b/c d e.txt",
      "dir/sub/deeper/file",
      "emoji 😀.png",
      ".profile",
      "name..with..dots",
      "...",
      repeat("中", 85),                           // 255 bytes in one component
      repeat("a", 255) + "/" + repeat("b", 255),  // two full components
      repeat("abc/", 255) + "abcd",               // exactly 1024 bytes
  };
  for (const auto& name : good) {
    auto s = check_relative_name(name);
    EXPECT_TRUE(s.ok()) << name << ": " << s.error().message;
  }
}

struct BadName {
  std::string name;
  const char* says;
};

class BadNameTest : public ::testing::TestWithParam<BadName> {};

TEST_P(BadNameTest, RefusedAsNameInvalidSayingWhat) {
  auto s = check_relative_name(GetParam().name);
  ASSERT_FALSE(s.ok()) << GetParam().says;
  EXPECT_EQ(s.error().code, crypto::Errc::invalid_argument);
  EXPECT_THAT(s.error().message, StartsWith("name.invalid: "));
  EXPECT_THAT(s.error().message, HasSubstr(GetParam().says));
}

INSTANTIATE_TEST_SUITE_P(
    Names, BadNameTest,
    ::testing::Values(BadName{"", "empty name"}, BadName{"/etc/passwd", "absolute path"},
                      BadName{"a//b", "empty path component"}, BadName{"dir/", "empty path component"},
                      BadName{"./a", "'.' path component"}, BadName{"a/../../b", "'..' path component"},
                      BadName{"..", "'..' path component"}, BadName{"line\nbreak", "control character U+000A at byte 4"},
                      BadName{std::string("nul\0x", 5), "control character U+0000"},
                      BadName{"tab\there", "control character U+0009"}, BadName{"del\x7f", "control character U+007F"},
                      BadName{"c1\xc2\x85", "control character U+0085"}, BadName{"esc\x1b[31m", "control character U+001B"},
                      BadName{"latin1 \xe9t\xe9", "not valid UTF-8 at byte 7"},
                      BadName{"overlong \xc0\xaf", "not valid UTF-8"}, BadName{"surrogate \xed\xa0\x80", "not valid UTF-8"},
                      BadName{"too high \xf4\x90\x80\x80", "not valid UTF-8"}, BadName{"cut \xe4\xb8", "not valid UTF-8"},
                      BadName{"report\xe2\x80\xae" "fdp.exe", "bidirectional override U+202E"},
                      BadName{"a/.ferry-claim.x/b", "reserved prefix"}, BadName{".ferry-deliver.tmp", "reserved prefix"},
                      BadName{repeat("a", 256), "component of 256 bytes, over 255"},
                      BadName{repeat("中", 86), "component of 258 bytes"},
                      BadName{repeat("abc/", 255) + "abcde", "path is 1025 bytes, over 1024"}));

const ObjectId kId = *ObjectId::parse("1a2b3c4d5e6f708192a3b4c5d6e7f809");

TEST(SuffixedNameTest, GoesBeforeTheLastExtension) {
  EXPECT_EQ(suffixed_name("report.pdf", kId, 8), "report~1a2b3c4d.pdf");
  EXPECT_EQ(suffixed_name("archive.tar.gz", kId, 8), "archive.tar~1a2b3c4d.gz");
  EXPECT_EQ(suffixed_name("README", kId, 8), "README~1a2b3c4d");
  EXPECT_EQ(suffixed_name(".profile", kId, 8), ".profile~1a2b3c4d");
  EXPECT_EQ(suffixed_name("年报.docx", kId, 16), "年报~1a2b3c4d5e6f7081.docx");
  EXPECT_EQ(suffixed_name("x", kId, 32), "x~1a2b3c4d5e6f708192a3b4c5d6e7f809");
}

TEST(SuffixedNameTest, StaysWithinTheComponentLimitWithoutSplittingCharacters) {
  const std::string name = repeat("中", 83) + ".pdf";  // 253 bytes
  const std::string out = suffixed_name(name, kId, 8);
  EXPECT_LE(out.size(), kMaxNameComponentBytes);
  EXPECT_TRUE(check_relative_name(out).ok()) << out;
  EXPECT_THAT(out, ::testing::EndsWith("~1a2b3c4d.pdf"));
  const std::string long_ext = "a." + repeat("e", 250);
  const std::string out2 = suffixed_name(long_ext, kId, 32);
  EXPECT_LE(out2.size(), kMaxNameComponentBytes);
  EXPECT_THAT(out2, ::testing::EndsWith("~1a2b3c4d5e6f708192a3b4c5d6e7f809"));
}

}  // namespace
}  // namespace ferry::spool

// Keyword matching as an officer relies on it: the evasions a sender would
// try still match, the hit names the list, the term as written and where it
// is in the original text, and clean text passes.
#include "ferry/pipeline/keywords.h"

#include <gtest/gtest.h>

namespace ferry::pipeline {
namespace {

KeywordMatcher matcher(std::vector<KeywordList> lists) {
  auto m = KeywordMatcher::compile(lists);
  if (!m.ok()) throw std::runtime_error(m.error().message);
  return std::move(m).value();
}

const std::vector<KeywordList> kLists = {{"secret-words", {"绝密", "机密", "内部资料"}},
                                         {"english", {"Top Secret", "CONFIDENTIAL"}}};

TEST(Normalise, FullWidthCaseZeroWidthAndSpacesBetweenCjk) {
  EXPECT_EQ(normalise_for_keywords("ＴＯＰ　Ｓｅｃｒｅｔ").text, "top secret");  // full-width, ideographic space
  EXPECT_EQ(normalise_for_keywords("机\u200b密").text, "机密");                 // zero-width space
  EXPECT_EQ(normalise_for_keywords("机\u00ad密").text, "机密");                 // soft hyphen
  EXPECT_EQ(normalise_for_keywords("绝 密").text, "绝密");
  EXPECT_EQ(normalise_for_keywords("绝\u3000\t 密").text, "绝密");
  EXPECT_EQ(normalise_for_keywords("绝密 files").text, "绝密 files");  // not between two CJK: kept
  EXPECT_EQ(normalise_for_keywords("ﬁle ①").text, "file 1");            // compatibility forms
}

TEST(Normalise, EveryByteKnowsWhereItCameFrom) {
  const std::string text = "ab 绝 密";
  const NormalisedText n = normalise_for_keywords(text);
  ASSERT_EQ(n.text, "ab 绝密");
  EXPECT_EQ(n.origin(0), 0u);
  EXPECT_EQ(n.origin(3), 3u);  // 绝
  EXPECT_EQ(n.origin(6), 7u);  // 密, after the dropped space
  const NormalisedText wide = normalise_for_keywords("ＡＢ绝密");
  ASSERT_EQ(wide.text, "ab绝密");
  EXPECT_EQ(wide.origin(1), 3u);  // Ｂ
  EXPECT_EQ(wide.origin(2), 6u);  // 绝
}

TEST(Normalise, InvalidUtf8CannotHideATerm) {
  const std::string text = "机\xff密";
  EXPECT_EQ(normalise_for_keywords(text).text, "机\uFFFD密");
  EXPECT_TRUE(matcher(kLists).first_hit(std::string("\xff\xfe") + "绝密").has_value());
}

TEST(KeywordMatcher, EvasionsStillMatchAndTheHitSaysWhereAndWhat) {
  const KeywordMatcher m = matcher(kLists);
  EXPECT_EQ(m.term_count(), 5u);
  for (const std::string& text : {std::string("本文件 绝 密，请勿外传"), std::string("本文件机\u200b密"),
                                  std::string("stamp: ｔｏｐ ｓｅｃｒｅｔ"), std::string("top SECRET"),
                                  std::string("confidential")}) {
    EXPECT_TRUE(m.first_hit(text).has_value()) << text;
  }
  const std::string text = "第一页正常。第二页：内部\u200b资料，不得外传。";
  const std::optional<KeywordHit> hit = m.first_hit(text);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->list, "secret-words");
  EXPECT_EQ(hit->term, "内部资料");
  EXPECT_EQ(text.substr(hit->offset, 6), "内部");
}

TEST(KeywordMatcher, CleanTextAndNearMissesPass) {
  const KeywordMatcher m = matcher(kLists);
  // Terms are matched anywhere, also inside longer words; a hyphen is not a space.
  EXPECT_TRUE(m.first_hit("Top secrets of cooking").has_value());
  EXPECT_FALSE(m.first_hit("top-secret").has_value());
  EXPECT_FALSE(m.first_hit("公开信息，欢迎转载。").has_value());
  EXPECT_FALSE(m.first_hit("绝对 密切").has_value());  // 绝 and 密 not adjacent
  EXPECT_FALSE(m.first_hit("").has_value());
}

TEST(KeywordMatcher, ATermEmptyAfterNormalisationIsRefusedByName) {
  auto m = KeywordMatcher::compile({{"bad-list", {"ok", "\u200b"}}});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("bad-list"), std::string::npos) << m.error().message;
}

TEST(KeywordMatcher, NoListsMatchNothing) {
  const KeywordMatcher m = matcher({});
  EXPECT_FALSE(m.first_hit("绝密").has_value());
}

}  // namespace
}  // namespace ferry::pipeline

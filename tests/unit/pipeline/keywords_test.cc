// Keyword matching as an officer relies on it: the evasions a sender would
// try still match, the hit names the list, the term as written and where it
// is in the original text, and clean text passes.
#include "ferry/pipeline/keywords.h"

#include <gtest/gtest.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <random>

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

// The scanner takes text that normalises to itself a block at a time and
// hands the scan its output in pieces: a term must match wherever it falls
// with respect to those, and the hit must point at the original.
TEST(KeywordMatcher, HitsAcrossFastAndNormalisedStretches) {
  const KeywordMatcher m = matcher(kLists);
  const std::string plain = "本文件仅供内部参考使用请勿转发给任何无关人员谢谢合作";  // 26 CJK characters, 78 bytes
  for (std::size_t cut = 0; cut <= plain.size(); cut += 3) {
    // A term straddling the end of a plain stretch and a character that
    // must be normalised (zero-width space, CJK spacing, full width).
    for (const std::string& evasion :
         {std::string("机\u200b密"), std::string("绝 密"), std::string("ＣＯＮＦＩＤＥＮＴＩＡＬ")}) {
      const std::string text = plain.substr(0, cut) + evasion + plain.substr(cut);
      const std::optional<KeywordHit> hit = m.first_hit(text);
      ASSERT_TRUE(hit.has_value()) << text;
      EXPECT_EQ(hit->offset, cut) << text;
    }
    // A hit right after a normalised stretch, and right before one.
    const std::string after = plain.substr(0, cut) + "ＡＢ\u200bcd" + "内部资料" + plain.substr(cut);
    ASSERT_TRUE(m.first_hit(after).has_value());
    EXPECT_EQ(m.first_hit(after)->offset, cut + std::string("ＡＢ\u200bcd").size());
    const std::string before = plain.substr(0, cut) + "内部资料" + "ＡＢ" + plain.substr(cut);
    EXPECT_EQ(m.first_hit(before)->offset, cut);
  }
}

TEST(KeywordMatcher, UpperCaseTermsAndTextInLongPlainStretches) {
  const KeywordMatcher m = matcher({{"caps", {"TOP SECRET", "Need To Know"}}});
  const std::string filler = "The quarterly report covers sales, travel and staffing. ";
  for (std::size_t pad = 0; pad < 70; ++pad) {
    for (const std::string& term :
         {std::string("top secret"), std::string("TOP SECRET"), std::string("nEED tO kNOW")}) {
      const std::string text = filler + std::string(pad, 'x') + " " + term + " " + filler;
      const std::optional<KeywordHit> hit = m.first_hit(text);
      ASSERT_TRUE(hit.has_value()) << text;
      EXPECT_EQ(hit->offset, filler.size() + pad + 1) << text;
    }
  }
  EXPECT_FALSE(m.first_hit(filler + "TOP-SECRET " + filler).has_value());
}

TEST(KeywordMatcher, HitsOnBothSidesOfAScanPiece) {
  // The normalised text reaches the scan in pieces of 64 KiB: a term
  // before, across and after the first boundary, also behind an evasion.
  const KeywordMatcher m = matcher(kLists);
  for (std::size_t at = 65520; at < 65545; ++at) {
    const std::string text = std::string(at, 'x') + "top secret" + std::string(100, 'y');
    const std::optional<KeywordHit> hit = m.first_hit(text);
    ASSERT_TRUE(hit.has_value()) << at;
    EXPECT_EQ(hit->offset, at);
    const std::string cjk = std::string(at, 'x') + "，绝\u3000密" + std::string(100, 'y');
    ASSERT_TRUE(m.first_hit(cjk).has_value()) << at;
    EXPECT_EQ(m.first_hit(cjk)->offset, at + std::string("，").size());
  }
  const std::string far = std::string(300000, 'z') + "绝\u200b密";
  ASSERT_TRUE(m.first_hit(far).has_value());
  EXPECT_EQ(m.first_hit(far)->offset, 300000u);
  EXPECT_FALSE(m.first_hit(std::string(300000, 'z')).has_value());
}

// The same answer with the text cut into parts scanned side by side: also
// for a term across a cut, behind a long run of ignorables, or in the
// last part only.
TEST(KeywordMatcher, PartsScannedSideBySideGiveTheSameFirstHit) {
  const KeywordMatcher m = matcher(kLists);
  std::string cjk;
  while (cjk.size() < (std::size_t{3} << 20) / 2) cjk += "挂掉控制台说明书";
  auto same = [&](const std::string& text) {
    const std::optional<KeywordHit> one = m.first_hit(text);
    for (unsigned threads : {2u, 3u, 4u}) {
      const std::optional<KeywordHit> many = m.first_hit(text, threads);
      ASSERT_EQ(one.has_value(), many.has_value()) << threads;
      if (one) {
        EXPECT_EQ(one->term, many->term) << threads;
        EXPECT_EQ(one->offset, many->offset) << threads;
      }
    }
  };
  // The cut lands right after the first ASCII character at or after the
  // middle: sweep the term across it.
  for (std::size_t shift = 0; shift < 12; ++shift) {
    const std::string head = cjk.substr(0, cjk.size() - 3 * shift);
    same(head + "top secret" + cjk + cjk.substr(0, 3 * shift));
    same(head + "top se" + std::string(2000, ' ') + "cret " + cjk);
  }
  // ASCII text reaches the scan in pieces of 65,537 bytes (a character,
  // then a run of at most 64 KiB): a cut right at the end of one, inside a
  // term, which the first part must scan on past.
  const std::size_t cut = 65537 * 16;
  same(std::string(cut - 1, 'x') + "top secret" + std::string(cut - 11, 'x'));
  std::string ignorables;
  for (int k = 0; k < 400000; ++k) ignorables += "\u200b";
  same(cjk + "top se" + ignorables + "cret" + cjk);
  same(cjk + cjk + "x" + cjk + "CONFIDENTIAL");
  same(cjk + "x" + cjk + "，机密" + cjk + "x top secret");
  same(cjk + "x" + cjk + "x" + cjk);
  const std::string text = cjk + "x" + cjk + "x" + cjk + "绝\u3000密";
  ASSERT_TRUE(m.first_hit(text, 3).has_value());
  EXPECT_EQ(m.first_hit(text, 3)->offset, text.size() - std::string("绝\u3000密").size());
}

// An independent model of the normalisation, straight from ICU one code
// point at a time (UAX #15 NFKC_Casefold, UAX #44 White_Space): the fast
// paths must agree with it on every text.
bool model_cjk(UChar32 c) {
  return (c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3040 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x20000 && c <= 0x3134F);
}

std::string model_normalise(const std::string& utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
  struct Piece {
    std::string text;
    bool space = true, first_cjk = false, last_cjk = false;
  };
  std::vector<Piece> pieces;
  const auto* s = reinterpret_cast<const std::uint8_t*>(utf8.data());
  for (std::int32_t i = 0, n = static_cast<std::int32_t>(utf8.size()); i < n;) {
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0) c = 0xFFFD;
    Piece p;
    nfkc_cf->normalize(icu::UnicodeString(c), status).toUTF8String(p.text);
    if (p.text.empty()) continue;
    const auto* t = reinterpret_cast<const std::uint8_t*>(p.text.data());
    for (std::int32_t k = 0, m = static_cast<std::int32_t>(p.text.size()); k < m;) {
      UChar32 d;
      U8_NEXT(t, k, m, d);
      if (!u_isUWhiteSpace(d)) p.space = false;
      if (k == U8_LENGTH(d)) p.first_cjk = model_cjk(d);
      p.last_cjk = model_cjk(d);
    }
    pieces.push_back(std::move(p));
  }
  std::string out;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].space) {
      std::size_t j = i;
      while (j < pieces.size() && pieces[j].space) ++j;
      const bool between_cjk = i > 0 && pieces[i - 1].last_cjk && j < pieces.size() && pieces[j].first_cjk;
      for (; i < j; ++i) {
        if (!between_cjk) out += pieces[i].text;
      }
      --i;
      continue;
    }
    out += pieces[i].text;
  }
  return out;
}

TEST(Normalise, AgreesWithAModelOnRandomMixedText) {
  // Pieces that exercise each path: plain ASCII and CJK (the block path),
  // upper case, white space beside ASCII and between CJK, full-width forms,
  // ignorables, compatibility characters, kana and Hangul, astral CJK,
  // ill-formed UTF-8.
  const std::vector<std::string> alphabet = {"a",
                                             "Z",
                                             "q",
                                             "7",
                                             ".",
                                             " ",
                                             "  ",
                                             "\t",
                                             "\n",
                                             "\x01",
                                             "机",
                                             "密",
                                             "绝",
                                             "ア",
                                             "ｱ",
                                             "한",
                                             "，",
                                             "。",
                                             "Ａ",
                                             "ｓ",
                                             "\u3000",
                                             "\u00a0",
                                             "\u200b",
                                             "\u00ad",
                                             "ﬁ",
                                             "①",
                                             "é",
                                             "e\u0301",
                                             "Σ",
                                             "ß",
                                             "\U00020000",
                                             "\xff",
                                             "\xe4",
                                             "\xe4\xb8",
                                             "\x80",
                                             "\xed\xa0\x80",
                                             "\xf0\x9f\x98\x80"};
  std::mt19937 rng(2026);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const std::size_t pieces = 1 + rng() % 60;
    for (std::size_t k = 0; k < pieces; ++k) {
      // Long plain stretches now and then, so that blocks are taken whole.
      if (rng() % 8 == 0) {
        text += rng() % 2 ? std::string(1 + rng() % 40, 'k') : std::string("内部参考资料仅供阅读");
      } else {
        text += alphabet[rng() % alphabet.size()];
      }
    }
    const NormalisedText n = normalise_for_keywords(text);
    ASSERT_EQ(n.text, model_normalise(text)) << ::testing::PrintToString(text);
  }
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

namespace ferry::pipeline {
namespace {

TEST(Normalise, AFloodOfWhiteSpaceAfterCjkStaysBoundedAndStillMatches) {
  // Megabytes of spaces after a CJK character are not held one by one.
  const std::string flood = "绝" + std::string(8 << 20, ' ') + "x";
  const NormalisedText n = normalise_for_keywords(flood);
  EXPECT_TRUE(n.text.starts_with("绝 ") && n.text.ends_with(" x")) << n.text.size();
  EXPECT_LE(n.text.size(), 3u + 1025u + 1u);  // the first 1024 kept, the rest as one space
  EXPECT_EQ(n.origin(n.text.size() - 1), flood.size() - 1);
  // Between two CJK characters the whole run is still dropped.
  auto m = KeywordMatcher::compile({{"marks", {"绝密"}}});
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->first_hit("绝" + std::string(5000, ' ') + "密").has_value());
}

}  // namespace
}  // namespace ferry::pipeline

// Keywords ([policy-inspect] stage 5, reason codes keyword.*): a policy's
// deny lists matched against text after normalisation, so that the usual
// evasions still match:
//
//  * NFKC with case folding (ICU's NFKC_Casefold, UAX #15 and UAX #44):
//    full-width forms become ASCII ("ＳＥＣＲＥＴ" -> "secret"), compatibility
//    characters their plain forms, Latin letters lower case;
//  * default-ignorable code points removed (zero-width space, joiners, soft
//    hyphen...), which NFKC_Casefold also does: "机\u200b密" -> "机密";
//  * white space between two CJK characters removed: "绝 密" -> "绝密".
//
// Each code point is normalised on its own, so every byte of the normalised
// text knows the byte of the original it came from, and a match is reported
// at its place in the original. The price: a base letter and a separate
// combining mark are not composed (NFC of "e" + U+0301 stays two code
// points); the terms are normalised the same way, so such a term still
// matches text written the same way.
//
// Matching is Hyperscan's literal multi-pattern mode (Vectorscan on ARM), in
// streaming mode: one pass over the text for all terms of all lists, fed the
// normalised text in pieces of 64 KiB as it is made, so that it is read from
// the cache and a term across two pieces still matches. Most text normalises
// to itself (ASCII other than upper case, CJK ideographs): it is recognised
// a block of bytes at a time and copied as it stands.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace ferry::pipeline {

struct NormalisedText {
  std::string text;  // UTF-8
  // The byte offset in the input that byte `offset` of text came from.
  std::size_t origin(std::size_t offset) const;

  // Where the input and output offsets stop differing by the same amount:
  // (output offset, input minus output) from there on. Sparse: text that
  // normalises to itself, byte for byte, needs none.
  std::vector<std::pair<std::size_t, std::ptrdiff_t>> shifts;
};
// Invalid UTF-8 in the input is kept as U+FFFD (it cannot hide a term).
NormalisedText normalise_for_keywords(std::string_view utf8);

struct KeywordList {
  std::string name;
  std::vector<std::string> terms;
};

struct KeywordHit {
  std::string list;
  std::string term;         // as the officer wrote it
  std::size_t offset = 0;   // byte offset in the original text where the match starts
};

class KeywordMatcher {
 public:
  // Errors: a term that is empty after normalisation, or a database that
  // Hyperscan refuses, names the list and the term.
  static crypto::Result<KeywordMatcher> compile(const std::vector<KeywordList>& lists);

  KeywordMatcher(KeywordMatcher&&) noexcept;
  KeywordMatcher& operator=(KeywordMatcher&&) noexcept;
  ~KeywordMatcher();

  // The first hit in text order (the match that ends first), or nullopt.
  std::optional<KeywordHit> first_hit(std::string_view utf8) const;
  // The same, with a long text (a MiB or more a part) cut into up to
  // `threads` parts that are normalised and scanned side by side.
  std::optional<KeywordHit> first_hit(std::string_view utf8, unsigned threads) const;
  std::size_t term_count() const;

 private:
  struct Impl;
  explicit KeywordMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::pipeline

// Keyword normalisation reads the text of hostile files. Whatever the bytes:
// no crash, the output is valid UTF-8, every output byte points into the
// input, the origins never go backwards, and normalising is idempotent. The
// matcher (block fast path, pieces, streaming scan) finds a term exactly
// when the normalised text holds it, and says where the first one is.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <unicode/utf8.h>

#include "ferry/pipeline/keywords.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::pipeline;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const NormalisedText n = normalise_for_keywords(text);
  for (std::size_t i = 0; i < n.text.size(); ++i) {
    if (n.origin(i) >= size || (i > 0 && n.origin(i) < n.origin(i - 1))) std::abort();
  }
  const auto* s = reinterpret_cast<const std::uint8_t*>(n.text.data());
  for (std::int32_t i = 0, len = static_cast<std::int32_t>(n.text.size()); i < len;) {
    UChar32 c;
    U8_NEXT(s, i, len, c);
    if (c < 0) std::abort();
  }
  if (normalise_for_keywords(n.text).text != n.text) std::abort();

  // No term is a suffix of another: the match that ends first is unique.
  static const std::vector<std::string> terms = {"secret", "绝密", "xy z", "ａｂｃ"};
  static const KeywordMatcher matcher = [] {
    auto m = KeywordMatcher::compile({{"fuzz", terms}});
    if (!m.ok()) std::abort();
    return std::move(m).value();
  }();
  std::size_t first_end = std::string::npos, first_start = 0;
  for (const std::string& term : terms) {
    const std::string norm = normalise_for_keywords(term).text;
    const std::size_t at = n.text.find(norm);
    if (at != std::string::npos && at + norm.size() < first_end) {
      first_end = at + norm.size();
      first_start = at;
    }
  }
  const std::optional<KeywordHit> hit = matcher.first_hit(text);
  if (hit.has_value() != (first_end != std::string::npos)) std::abort();
  if (hit && hit->offset != n.origin(first_start)) std::abort();
  return 0;
}

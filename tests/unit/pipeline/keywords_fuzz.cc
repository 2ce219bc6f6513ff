// Keyword normalisation reads the text of hostile files. Whatever the bytes:
// no crash, the output is valid UTF-8, every output byte points into the
// input, the origins never go backwards, and normalising is idempotent.
#include <cstdint>
#include <cstdlib>
#include <string_view>

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
  return 0;
}

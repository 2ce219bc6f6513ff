// Encoding detection reads hostile bytes. Whatever they are: no crash; an
// accepted text is valid UTF-8 without control characters other than TAB,
// LF, CR and FF, and reading that UTF-8 again gives it back unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <unicode/utf8.h>

#include "ferry/pipeline/text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::pipeline;
  const TextLimits limits;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ferry::crypto::Result<DecodedText> r = decode_text(bytes, limits);
  if (!r) {
    if (r.error().message.empty()) std::abort();
    return 0;
  }
  const std::string& text = r->utf8;
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  for (std::int32_t i = 0, len = static_cast<std::int32_t>(text.size()); i < len;) {
    UChar32 c;
    U8_NEXT(s, i, len, c);
    if (c < 0) std::abort();
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || (c >= 0x7F && c <= 0x9F)) std::abort();
  }
  if (text.rfind("\xEF\xBB\xBF", 0) != 0) {
    const ferry::crypto::Result<DecodedText> again = decode_text(text, limits);
    if (!again || again->utf8 != text) std::abort();
  }
  return 0;
}

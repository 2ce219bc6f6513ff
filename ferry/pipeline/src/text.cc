#include "ferry/pipeline/text.h"

#include <uchardet.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <unicode/ucnv.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "ferry/pipeline/src/text_parts.h"

namespace ferry::pipeline {

namespace text_parts {

std::string size_name(std::uint64_t bytes) {
  if (bytes > 0 && bytes % (std::uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  return std::to_string(bytes) + " bytes";
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

crypto::Status TextOut::append(std::string_view s) {
  if (s.size() > max_ - std::min<std::uint64_t>(max_, text_.size())) {
    return crypto::make_error(crypto::Errc::exhausted, "the text is longer than " + size_name(max_));
  }
  text_.append(s);
  return {};
}

crypto::Status TextOut::line(std::string_view s) {
  if (s.empty()) return {};
  if (crypto::Status st = append(s); !st) return st;
  return append("\n");
}

crypto::Status TextOut::end_line() {
  if (text_.empty() || text_.back() == '\n') return {};
  return append("\n");
}

}  // namespace text_parts

namespace {

using crypto::Errc;
using crypto::make_error;
using text_parts::TextOut;

// Why a candidate encoding failed, and how far into the input it got: the
// message of the attempt that got furthest is the one the officer sees.
struct Failure {
  std::size_t offset = 0;
  std::string message;
  bool control = false;  // the bytes decode, but to a control character
};

bool is_forbidden_control(UChar32 c) {
  return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || (c >= 0x7F && c <= 0x9F);
}

std::string hex_bytes(const char* bytes, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    char b[8];
    std::snprintf(b, sizeof b, "%s0x%02x", i ? " " : "", static_cast<unsigned char>(bytes[i]));
    out += b;
  }
  return out;
}

using Converter = std::unique_ptr<UConverter, decltype(&ucnv_close)>;

// Converts with ICU, stopping at the first invalid or truncated sequence and
// at the first control character. Input is fed in slices so that ICU's
// 32-bit source offsets stay small.
class Decoder {
 public:
  // `base`: where bytes start in the file (after a BOM), for messages.
  Decoder(std::string_view bytes, std::size_t base, const char* icu_name, std::uint64_t max_text)
      : bytes_(bytes), base_(base), icu_name_(icu_name), max_text_(max_text) {}

  // nullopt with failure() set, or the text; a text beyond max_text is an
  // Error (no other candidate would be shorter).
  std::optional<crypto::Result<std::string>> run() {
    UErrorCode status = U_ZERO_ERROR;
    Converter cnv(ucnv_open(icu_name_, &status), ucnv_close);
    if (U_FAILURE(status)) {
      return crypto::Result<std::string>(make_error(Errc::internal, std::string("ICU has no converter for ") + icu_name_));
    }
    ucnv_setToUCallBack(cnv.get(), UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &status);
    constexpr std::size_t kSlice = std::size_t{1} << 20;
    std::vector<UChar> units(std::size_t{1} << 16);
    std::vector<int32_t> offsets(units.size());
    const char* src = bytes_.data();
    const char* const end = bytes_.data() + bytes_.size();
    while (true) {
      const char* const slice_start = src;
      const char* const slice_end = end - src > static_cast<std::ptrdiff_t>(kSlice) ? src + kSlice : end;
      const bool flush = slice_end == end;
      UChar* target = units.data();
      status = U_ZERO_ERROR;
      ucnv_toUnicode(cnv.get(), &target, units.data() + units.size(), &src, slice_end, offsets.data(), flush, &status);
      const std::size_t base = static_cast<std::size_t>(slice_start - bytes_.data());
      if (!take(units.data(), target, offsets.data(), base)) return std::nullopt;
      if (utf8_.size() > max_text_) {
        return crypto::Result<std::string>(
            make_error(Errc::exhausted, "the text is longer than " + text_parts::size_name(max_text_)));
      }
      if (status == U_BUFFER_OVERFLOW_ERROR) continue;
      if (U_FAILURE(status)) {
        char bad[32];
        int8_t bad_len = sizeof bad;
        UErrorCode ignored = U_ZERO_ERROR;
        ucnv_getInvalidChars(cnv.get(), bad, &bad_len, &ignored);
        if (U_FAILURE(ignored)) bad_len = 0;
        const std::size_t at = static_cast<std::size_t>(src - bytes_.data()) - static_cast<std::size_t>(bad_len);
        const std::string what = status == U_TRUNCATED_CHAR_FOUND ? "truncated sequence " : "invalid byte ";
        fail_at(at, what + (bad_len > 0 ? hex_bytes(bad, static_cast<std::size_t>(bad_len)) : ""));
        return std::nullopt;
      }
      if (flush && src == end) break;
    }
    if (pending_lead_ != 0) {
      fail_at(bytes_.size(), "unpaired surrogate");
      return std::nullopt;
    }
    return crypto::Result<std::string>(std::move(utf8_));
  }

  const Failure& failure() const { return failure_; }

 private:
  bool take(const UChar* begin, const UChar* end, const int32_t* offsets, std::size_t base) {
    for (const UChar* u = begin; u < end; ++u) {
      const std::size_t at = base + static_cast<std::size_t>(std::max<int32_t>(0, offsets[u - begin]));
      UChar32 c = *u;
      if (pending_lead_ != 0) {
        if (!U16_IS_TRAIL(c)) return fail_at(at, "unpaired surrogate");
        c = U16_GET_SUPPLEMENTARY(pending_lead_, c);
        pending_lead_ = 0;
      } else if (U16_IS_LEAD(c)) {
        pending_lead_ = *u;
        continue;
      } else if (U16_IS_TRAIL(c)) {
        return fail_at(at, "unpaired surrogate");
      }
      if (is_forbidden_control(c)) {
        char name[16];
        std::snprintf(name, sizeof name, "U+%04X", static_cast<unsigned>(c));
        fail_at(at, std::string("control character ") + name + " (binary data, not text)");
        failure_.control = true;
        return false;
      }
      text_parts::append_utf8(utf8_, static_cast<char32_t>(c));
    }
    return true;
  }

  bool fail_at(std::size_t at, const std::string& what) {
    failure_ = {base_ + at, what + " at offset " + std::to_string(base_ + at)};
    return false;
  }

  std::string_view bytes_;
  std::size_t base_;
  const char* icu_name_;
  std::uint64_t max_text_;
  std::string utf8_;
  UChar pending_lead_ = 0;
  Failure failure_;
};

struct Candidate {
  const char* label;     // as DecodedText::encoding reports it
  const char* icu_name;
  std::size_t skip = 0;  // BOM length
};

constexpr Candidate kUtf8{"utf-8", "UTF-8"};
constexpr Candidate kUtf16le{"utf-16le", "UTF-16LE"};
constexpr Candidate kUtf16be{"utf-16be", "UTF-16BE"};
constexpr Candidate kGb18030{"gb18030", "GB18030"};

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string uchardet_guess(std::string_view bytes) {
  std::unique_ptr<std::remove_pointer_t<uchardet_t>, decltype(&uchardet_delete)> det(uchardet_new(), uchardet_delete);
  if (!det) return {};
  // A megabyte decides as well as the whole file would.
  const std::size_t n = std::min<std::size_t>(bytes.size(), std::size_t{1} << 20);
  if (uchardet_handle_data(det.get(), bytes.data(), n) != 0) return {};
  uchardet_data_end(det.get());
  std::string name = uchardet_get_charset(det.get());
  std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
  return name;
}

// East Asian multi-byte encodings other than GB: GB18030 would decode most of
// their byte sequences into unrelated characters.
bool is_other_cjk_encoding(const std::string& name) {
  static constexpr std::array<std::string_view, 8> kNames = {"BIG5", "EUC-TW", "EUC-JP", "SHIFT_JIS",
                                                             "EUC-KR", "UHC", "JOHAB", "CP949"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

// Without a BOM, NUL bytes in text can only come from UTF-16 code units
// below U+0100 (or U+xx00): in LE text they are the second byte of a unit, in
// BE text the first. The order with more NULs on its high-byte side is tried
// first. Plain 7-bit bytes with a stray NUL are not UTF-16: read as UTF-16
// they pair up into valid but meaningless CJK code units, so UTF-16 is only
// a candidate when half the code units or more have a zero high byte (ASCII-
// range text) or some byte is 0x80 or above (text mostly outside ASCII).
std::vector<Candidate> utf16_by_nul_pattern(std::string_view bytes) {
  std::size_t high_zero_le = 0, high_zero_be = 0;
  bool eight_bit = false;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    high_zero_le += bytes[i + 1] == '\0';
    high_zero_be += bytes[i] == '\0';
    eight_bit = eight_bit || (static_cast<unsigned char>(bytes[i]) | static_cast<unsigned char>(bytes[i + 1])) >= 0x80;
  }
  const std::size_t units = bytes.size() / 2;
  const std::size_t best = std::max(high_zero_le, high_zero_be);
  if (!eight_bit && best * 2 < units) return {};
  if (high_zero_le >= high_zero_be) return {kUtf16le, kUtf16be};
  return {kUtf16be, kUtf16le};
}

// Chinese text in UTF-16 with no ASCII at all (no space, digit or line
// break) has neither NULs nor, without a BOM, anything uchardet recognises,
// and GB18030 accepts most such byte strings as other characters. The test
// here: four code units or more, every one a CJK ideograph, CJK punctuation
// or a full-width form, and at most a third of them two printable ASCII
// bytes (runs of ASCII letters pair up into ideographs too; Chinese text has
// about one such unit in five). GBK text passes it now and then, so the test
// does not choose between the readings: after GB18030 it is a second one
// (DecodedText::alternative), and the last resort when GB18030 fails.
bool all_chinese_utf16(std::string_view bytes, bool little_endian) {
  if (bytes.size() < 8 || bytes.size() % 2 != 0) return false;
  std::size_t ascii_pairs = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    const auto b1 = static_cast<unsigned char>(bytes[i + 1]);
    ascii_pairs += b0 >= 0x20 && b0 < 0x7F && b1 >= 0x20 && b1 < 0x7F;
    const unsigned u = little_endian ? (b1 << 8 | b0) : (b0 << 8 | b1);
    const bool chinese = (u >= 0x4E00 && u <= 0x9FFF) || (u >= 0x3400 && u <= 0x4DBF) || (u >= 0x3000 && u <= 0x303F) ||
                         (u >= 0xFF00 && u <= 0xFFEF);
    if (!chinese) return false;
  }
  return ascii_pairs * 3 <= bytes.size() / 2;
}

}  // namespace

// The common case, decided without ICU or uchardet: well-formed UTF-8
// (RFC 3629 section 4: no overlong forms, no surrogates, nothing above
// U+10FFFF) holding no control character but TAB, LF, FF and CR, no DEL and
// no C1 control. Eight ASCII bytes at a time; anything else falls back to
// the full path, which also says what is wrong.
#if defined(__x86_64__)
// The ASCII fast path of is_clean_utf8, 32 bytes at a time: from i, the end
// of the run of whole blocks that are ASCII with no control character but
// TAB, LF, FF and CR, and no DEL. Text has a line break every few dozen
// bytes, which the eight-byte test below sends to the slow path; here it
// costs nothing.
__attribute__((target("avx2"))) std::size_t skip_clean_ascii_avx2(const unsigned char* p, std::size_t i,
                                                                    std::size_t n) {
  const __m256i space = _mm256_set1_epi8(0x20), del = _mm256_set1_epi8(0x7f);
  const __m256i tab = _mm256_set1_epi8('\t'), lf = _mm256_set1_epi8('\n'), ff = _mm256_set1_epi8('\f'),
                cr = _mm256_set1_epi8('\r');
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    if (_mm256_movemask_epi8(v) != 0) break;  // a byte of 0x80 or above
    // Signed compare is right: every byte is below 0x80 here.
    const __m256i control = _mm256_cmpgt_epi8(space, v);
    const __m256i allowed = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, tab), _mm256_cmpeq_epi8(v, lf)),
                                            _mm256_or_si256(_mm256_cmpeq_epi8(v, ff), _mm256_cmpeq_epi8(v, cr)));
    const __m256i bad = _mm256_or_si256(_mm256_andnot_si256(allowed, control), _mm256_cmpeq_epi8(v, del));
    if (_mm256_movemask_epi8(bad) != 0) break;
  }
  return i;
}
#endif

bool is_clean_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
#endif
  // A byte below 0x20 other than \t \n \f \r, or 0x7f.
  static constexpr auto kBadAscii = [] {
    std::array<bool, 128> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = c != '\t' && c != '\n' && c != '\f' && c != '\r';
    t[0x7f] = true;
    return t;
  }();
  std::size_t i = 0;
  while (i < n) {
#if defined(__x86_64__)
    if (avx2 && i + 32 <= n) {
      const std::size_t to = skip_clean_ascii_avx2(p, i, n);
      if (to != i) {
        i = to;
        continue;
      }
    }
#endif
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      // All eight ASCII, none below 0x20 and none 0x7f (SWAR: a byte minus
      // 0x20 borrows only if it was below 0x20; plus 1 carries into the high
      // bit only if it was 0x7f).
      constexpr std::uint64_t kHigh = 0x8080808080808080ull, kOnes = 0x0101010101010101ull;
      if ((w & kHigh) == 0 && ((w - 0x20 * kOnes) & kHigh) == 0 && ((w + kOnes) & kHigh) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned c = p[i];
    if (c < 0x80) {
      if (kBadAscii[c]) return false;
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
        (cp >= 0x80 && cp <= 0x9f)) {
      return false;
    }
    i += len;
  }
  return true;
}

crypto::Result<DecodedText> decode_text(std::string_view bytes, const TextLimits& limits) {
  std::vector<Candidate> candidates;
  std::string refused;
  if (starts_with(bytes, "\xEF\xBB\xBF")) {
    candidates = {{"utf-8-bom", "UTF-8", 3}};
  } else if (starts_with(bytes, "\xFF\xFE")) {
    candidates = {{"utf-16le", "UTF-16LE", 2}};
  } else if (starts_with(bytes, "\xFE\xFF")) {
    candidates = {{"utf-16be", "UTF-16BE", 2}};
  } else if (bytes.find('\0') != std::string_view::npos) {
    candidates = utf16_by_nul_pattern(bytes);
    if (candidates.empty()) {
      return make_error(Errc::bad_format, "not text: NUL byte at offset " + std::to_string(bytes.find('\0')) +
                                              " and no UTF-16 pattern (binary data)");
    }
  } else {
    if (is_clean_utf8(bytes)) {
      if (bytes.size() > limits.max_text) {
        return make_error(Errc::exhausted, "the text is longer than " + text_parts::size_name(limits.max_text));
      }
      return DecodedText{std::string(bytes), kUtf8.label, {}};
    }
    candidates = {kUtf8};
    const std::string guess = uchardet_guess(bytes);
    if (guess == "UTF-16LE") candidates.push_back(kUtf16le);
    if (guess == "UTF-16BE") candidates.push_back(kUtf16be);
    if (is_other_cjk_encoding(guess)) {
      refused = guess;
    } else {
      candidates.push_back(kGb18030);
    }
    // After GB18030: when it fails, these are the only readings left.
    if (all_chinese_utf16(bytes, true)) candidates.push_back(kUtf16le);
    if (all_chinese_utf16(bytes, false)) candidates.push_back(kUtf16be);
  }

  std::optional<Failure> furthest;
  for (const Candidate& c : candidates) {
    Decoder decoder(bytes.substr(c.skip), c.skip, c.icu_name, limits.max_text);
    std::optional<crypto::Result<std::string>> text = decoder.run();
    if (text) {
      if (!*text) return text->error();
      DecodedText result{std::move(**text), c.label, {}};
      if (std::strcmp(c.icu_name, "GB18030") == 0) {
        for (const bool little_endian : {true, false}) {
          if (!all_chinese_utf16(bytes, little_endian)) continue;
          const char* icu_name = little_endian ? kUtf16le.icu_name : kUtf16be.icu_name;
          std::optional<crypto::Result<std::string>> other = Decoder(bytes, 0, icu_name, limits.max_text).run();
          if (!other || !*other) continue;
          if (!result.alternative.empty()) result.alternative += '\n';
          result.alternative += **other;
        }
      }
      return result;
    }
    const Failure& f = decoder.failure();
    // Valid UTF-8 holding a control character is binary data; GB18030 would
    // read the same bytes as other characters and hide that.
    if (f.control && std::strcmp(c.icu_name, "UTF-8") == 0) {
      return make_error(Errc::bad_format, std::string("not text (") + c.label + "): " + f.message);
    }
    if (!furthest || f.offset > furthest->offset) furthest = f;
  }
  if (!refused.empty()) {
    return make_error(Errc::bad_format, "not valid text in UTF-8, UTF-16 or GB18030: it looks like " + refused +
                                            ", which is not an accepted encoding");
  }
  std::string where = candidates.size() == 1 ? std::string(" (") + candidates[0].label + ")" : "";
  return make_error(Errc::bad_format,
                    "not valid text in UTF-8, UTF-16 or GB18030" + where + ": " + furthest->message);
}

crypto::Result<std::string> extract_text(policy::FileType type, std::string_view bytes, const TextLimits& limits) {
  using policy::FileType;
  switch (type) {
    case FileType::txt:
    case FileType::csv:
    case FileType::json:
    case FileType::xml: {
      crypto::Result<DecodedText> decoded = decode_text(bytes, limits);
      if (!decoded) return decoded.error();
      if (type == FileType::txt) {
        if (decoded->alternative.empty()) return std::move(decoded->utf8);
        TextOut out(limits.max_text);
        if (crypto::Status st = out.line(decoded->utf8); !st) return st.error();
        if (crypto::Status st = out.append(decoded->alternative); !st) return st.error();
        return out.take();
      }
      if (type == FileType::csv) return text_parts::csv_text(decoded->utf8, limits);
      if (type == FileType::json) return text_parts::json_text(decoded->utf8, limits);
      return text_parts::xml_text(decoded->utf8, limits);
    }
    case FileType::docx:
    case FileType::xlsx:
    case FileType::pptx:
      return text_parts::ooxml_text(bytes, limits);
    case FileType::ofd:
      return text_parts::ofd_text(bytes, limits);
    case FileType::pdf:
      return text_parts::pdf_text(bytes, limits);
    case FileType::png:
    case FileType::jpeg:
    case FileType::zip:
      return std::string();
  }
  assert(false && "a FileType without a text rule");
  return std::string();
}

}  // namespace ferry::pipeline

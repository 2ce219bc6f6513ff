// Personal-data masking ([disarm], `pii: { action: mask }`). The object is
// decoded once, each value is found where it is written in the decoded text
// and replaced there, and the text is encoded back as it came. What makes it
// safe is the last step, not the first: the result is read again exactly as
// the inspection reads it (decode_text, extract_text, find_pii after
// normalisation), and anything still found, or a result that no longer
// parses, is an error rather than a half-masked object.
#include "ferry/pipeline/mask.h"

#include <unicode/ucnv.h>
#include <unicode/uchar.h>

#include <climits>
#include <cstring>
#include <memory>
#include <optional>

#include "ferry/pipeline/keywords.h"
#include "ferry/pipeline/pii.h"
#include "ferry/pipeline/src/text_parts.h"

namespace ferry::pipeline {

namespace {

using crypto::Errc;
using crypto::make_error;
using policy::FileType;
using policy::PiiKind;

// ---------------------------------------------------------------------------
// Characters of a value as written.

// One code point of UTF-8 at `i`, advancing `i`. A byte that starts no
// well-formed sequence stands for itself as U+FFFD (mask_value takes any
// bytes; decoded text never has one).
char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 1;
  char32_t cp = b0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
  } else if (b0 >= 0x80) {
    ++i;
    return 0xFFFD;
  }
  if (i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = cp << 6 | (b & 0x3Fu);
  }
  i += len;
  return cp;
}

// Full-width forms (U+FF01-FF5E) and the ideographic space read as their
// ASCII counterparts, as normalise_for_keywords folds them before find_pii.
char32_t fold_width(char32_t c) {
  if (c >= 0xFF01 && c <= 0xFF5E) return c - 0xFEE0;
  if (c == 0x3000) return ' ';
  return c;
}

bool is_ascii_alnum(char32_t c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// A character that carries none of the value: ASCII punctuation and space
// (the hyphens and spaces of "138 0013 8000"), other white space, and the
// invisible format characters normalisation drops (U+200B, soft hyphen).
// Everything else is part of the value and is kept or starred, so an odd
// digit form (U+1D7CF, mathematical 1) is never shown by mistake.
bool is_separator(char32_t folded) {
  if (folded < 0x80) return !is_ascii_alnum(folded);
  const auto c = static_cast<UChar32>(folded);
  return u_isUWhiteSpace(c) || u_charType(c) == U_FORMAT_CHAR;
}

struct WrittenChar {
  std::size_t begin = 0;
  std::size_t end = 0;
  char32_t folded = 0;
  bool wide = false;  // a full-width form: its star is one too, so columns stay
};

std::vector<WrittenChar> split(std::string_view value) {
  std::vector<WrittenChar> chars;
  for (std::size_t i = 0; i < value.size();) {
    const std::size_t begin = i;
    const char32_t c = next_code_point(value, i);
    chars.push_back({begin, i, fold_width(c), c >= 0xFF01 && c <= 0xFF5E});
  }
  return chars;
}

// ---------------------------------------------------------------------------
// Finding values where they are written.

struct Span {
  PiiKind kind;
  std::size_t begin = 0;  // bytes into the text searched
  std::size_t end = 0;
};

bool is_ascii(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// The values in a UTF-8 text as the inspection finds them ([policy-inspect]
// stage 6): ASCII text as it is, other text after normalise_for_keywords so
// that full-width digits count, each match mapped back to the characters
// of `text` it came from. nullopt when two matches come from one character
// (a compatibility character that expands to more than one), which no
// replacement in place can separate.
std::optional<std::vector<Span>> find_values(std::string_view text, const std::vector<PiiKind>& kinds) {
  std::vector<Span> spans;
  if (is_ascii(text)) {
    for (const PiiMatch& m : find_pii(text, kinds)) spans.push_back({m.kind, m.offset, m.offset + m.length});
    return spans;
  }
  const NormalisedText norm = normalise_for_keywords(text);
  for (const PiiMatch& m : find_pii(norm.text, kinds)) {
    std::size_t begin = std::min(norm.origin(m.offset), text.size() - 1);
    while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
    std::size_t end = std::min(norm.origin(m.offset + m.length - 1), text.size() - 1) + 1;
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    if (!spans.empty() && begin < spans.back().end) return std::nullopt;
    spans.push_back({m.kind, begin, end});
  }
  return spans;
}

// "line 3, column 7" of a UTF-8 text, counting characters, read forward
// only: the values of one text are reported in order.
class Positions {
 public:
  explicit Positions(std::string_view text) : text_(text) {}

  std::string at(std::size_t offset) {
    assert(offset >= offset_ && "positions are asked for in text order");
    for (; offset_ < offset && offset_ < text_.size(); ++offset_) {
      const auto c = static_cast<unsigned char>(text_[offset_]);
      if (c == '\n') {
        ++line_;
        column_ = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++column_;
      }
    }
    return "line " + std::to_string(line_) + ", column " + std::to_string(column_);
  }

 private:
  std::string_view text_;
  std::size_t offset_ = 0;
  std::size_t line_ = 1;
  std::size_t column_ = 1;
};

// ---------------------------------------------------------------------------
// Replacing them.

struct Edit {
  std::size_t begin = 0;  // bytes into the decoded text
  std::size_t end = 0;
  std::string replacement;
  std::optional<PiiKind> kind;  // none: a quote that turns a JSON number into a string
};

class Masking {
 public:
  explicit Masking(std::string_view text) : text_(text), positions_(text) {}

  void mask(const Span& v) {
    edits_.push_back({v.begin, v.end, mask_value(v.kind, text_.substr(v.begin, v.end - v.begin)), v.kind});
    lines_.push_back(std::string(policy::to_string(v.kind)) + " at " + positions_.at(v.begin));
  }
  void insert(std::size_t at, std::string_view s) { edits_.push_back({at, at, std::string(s), std::nullopt}); }
  std::string where(std::size_t offset) { return positions_.at(offset); }

  bool empty() const { return edits_.empty(); }
  std::vector<std::string> take_lines() { return std::move(lines_); }

  crypto::Result<std::string> apply(std::uint64_t max_text) const {
    std::string out;
    out.reserve(text_.size());
    std::size_t from = 0;
    for (const Edit& e : edits_) {
      assert(e.begin >= from && e.end >= e.begin && e.end <= text_.size() && "edits are made in text order");
      out.append(text_.substr(from, e.begin - from));
      out.append(e.replacement);
      from = e.end;
    }
    out.append(text_.substr(from));
    if (out.size() > max_text) {
      return make_error(Errc::exhausted, "the masked text is longer than " + text_parts::size_name(max_text));
    }
    return out;
  }

 private:
  std::string_view text_;
  Positions positions_;
  std::vector<Edit> edits_;
  std::vector<std::string> lines_;
};

// TXT, CSV and XML: the values are where the inspection sees them in the
// decoded text (CSV quotes and cell breaks, XML markup and CDATA brackets
// are never value characters), and starring a value adds no quote, comma or
// markup. A value visible only after XML references are resolved is not
// found here; the re-check refuses it.
crypto::Status mask_plain(std::string_view text, const std::vector<PiiKind>& kinds, Masking& masking) {
  const std::optional<std::vector<Span>> spans = find_values(text, kinds);
  if (!spans) {
    return make_error(Errc::bad_format, "two values are written with one compatibility character; they cannot be "
                                        "masked in place");
  }
  for (const Span& v : *spans) masking.mask(v);
  return {};
}

// ---------------------------------------------------------------------------
// JSON (RFC 8259): strings and numbers are read as json_text reads them, one
// token at a time, so that a value is found in the same string or number the
// inspection sees; the text has been read by json_text already, so the
// grammar holds.

// One character of a JSON string at `j` (after the opening quote), as its
// UTF-8, advancing `j`. `escaped`: it was written as an escape (§7).
std::string_view next_string_char(std::string_view s, std::size_t& j, bool& escaped, std::string& scratch) {
  if (s[j] != '\\' || j + 1 >= s.size()) {
    escaped = false;
    return s.substr(j++, 1);
  }
  escaped = true;
  const char e = s[j + 1];
  scratch.clear();
  if (e != 'u') {
    static constexpr std::string_view kShortEscapes = "\"\"\\\\//b\bf\fn\nr\rt\t";
    const std::size_t k = kShortEscapes.find(e);
    scratch += k != std::string_view::npos && k % 2 == 0 ? kShortEscapes[k + 1] : e;
    j += 2;
    return scratch;
  }
  auto hex4 = [&](std::size_t at, unsigned& v) {
    if (at + 4 > s.size()) return false;
    v = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
      const char c = s[k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return false;
    }
    return true;
  };
  unsigned cp = 0;
  if (!hex4(j + 2, cp)) {
    j += 2;
    return "\xEF\xBF\xBD";
  }
  j += 6;
  unsigned low = 0;
  if (cp >= 0xD800 && cp <= 0xDBFF && s.substr(j, 2) == "\\u" && hex4(j + 2, low) && low >= 0xDC00 && low <= 0xDFFF) {
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    j += 6;
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) return "\xEF\xBF\xBD";
  text_parts::append_utf8(scratch, cp);
  return scratch;
}

// The string whose opening quote is at `open`: its values masked in place.
// Returns the offset after the closing quote.
crypto::Result<std::size_t> mask_json_string(std::string_view s, std::size_t open, const std::vector<PiiKind>& kinds,
                                             Masking& masking) {
  std::string content, scratch;
  bool escaped = false, any_escape = false, may_hold_value = false;
  std::size_t j = open + 1;
  while (j < s.size() && s[j] != '"') {
    const std::string_view c = next_string_char(s, j, escaped, scratch);
    any_escape = any_escape || escaped;
    for (const char b : c) {
      // Every value holds an ASCII digit or '@', or, written full width or
      // otherwise outside ASCII, a byte above 0x7F: anything else is skipped.
      may_hold_value = may_hold_value || (b >= '0' && b <= '9') || b == '@' || static_cast<unsigned char>(b) >= 0x80;
    }
    content.append(c);
  }
  const std::size_t after = std::min(j + 1, s.size());
  if (!may_hold_value) return after;
  const std::optional<std::vector<Span>> spans = find_values(content, kinds);
  if (!spans) {
    return make_error(Errc::bad_format, "two values in the JSON string at " + masking.where(open) +
                                            " are written with one compatibility character; they cannot be masked "
                                            "in place");
  }
  // Content offsets to raw ones, walking the string again alongside.
  std::size_t raw = open + 1, decoded = 0;
  auto advance_to = [&](std::size_t target, bool& crossed_escape) {
    crossed_escape = false;
    while (decoded < target && raw < j) {
      const std::string_view c = next_string_char(s, raw, escaped, scratch);
      crossed_escape = crossed_escape || escaped;
      decoded += c.size();
    }
    return decoded == target;
  };
  for (const Span& v : *spans) {
    bool crossed = false;
    const bool aligned = advance_to(v.begin, crossed);
    const std::size_t raw_begin = raw;
    // A value in an escape-free stretch has the same bytes raw and decoded.
    if (aligned && !any_escape) {
      masking.mask({v.kind, raw_begin, raw_begin + (v.end - v.begin)});
      continue;
    }
    const bool whole = aligned && advance_to(v.end, crossed) && !crossed;
    if (!whole) {
      return make_error(Errc::bad_format, "personal data (" + std::string(policy::to_string(v.kind)) + ") at " +
                                              masking.where(raw_begin) +
                                              " is written with JSON escapes; it cannot be masked in place");
    }
    masking.mask({v.kind, raw_begin, raw});
  }
  return after;
}

crypto::Status mask_json(std::string_view s, const std::vector<PiiKind>& kinds, Masking& masking) {
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '"') {
      crypto::Result<std::size_t> after = mask_json_string(s, i, kinds, masking);
      if (!after) return after.error();
      i = *after;
      continue;
    }
    if (c != '-' && !(c >= '0' && c <= '9')) {
      ++i;
      continue;
    }
    // §6: a number. One that holds a value becomes a string holding the
    // masked number, so that the JSON still parses and the digits kept are
    // the ones the officer expects.
    const std::size_t start = i;
    while (i < s.size() && std::string_view("0123456789+-.eE").find(s[i]) != std::string_view::npos) ++i;
    const std::string_view number = s.substr(start, i - start);
    if (number.size() < 11) continue;  // the shortest value, a mobile number, has 11 digits
    std::vector<PiiMatch> found = find_pii(number, kinds);
    if (found.empty()) continue;
    masking.insert(start, "\"");
    for (const PiiMatch& m : found) masking.mask({m.kind, start + m.offset, start + m.offset + m.length});
    masking.insert(i, "\"");
  }
  return {};
}

// ---------------------------------------------------------------------------
// Encoding the text back.

std::u16string utf16_of(std::string_view utf8) {
  std::u16string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const char32_t c = next_code_point(utf8, i);
    if (c >= 0x10000) {
      out += static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10));
      out += static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF));
    } else {
      out += static_cast<char16_t>(c);
    }
  }
  return out;
}

crypto::Result<std::string> to_gb18030(const std::u16string& units) {
  if (units.size() > INT32_MAX / 4) return make_error(Errc::exhausted, "the text is too long to encode as GB18030");
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<UConverter, decltype(&ucnv_close)> cnv(ucnv_open("GB18030", &status), ucnv_close);
  if (U_FAILURE(status)) return make_error(Errc::internal, "ICU has no converter for GB18030");
  ucnv_setFromUCallBack(cnv.get(), UCNV_FROM_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &status);
  // Two bytes a code unit hold ASCII and Chinese text; a text with more
  // four-byte characters is converted again into the size ICU reports.
  std::string out(units.size() * 2 + 16, '\0');
  auto convert = [&] {
    status = U_ZERO_ERROR;
    ucnv_resetFromUnicode(cnv.get());
    return ucnv_fromUChars(cnv.get(), out.data(), static_cast<int32_t>(out.size()),
                           reinterpret_cast<const UChar*>(units.data()), static_cast<int32_t>(units.size()), &status);
  };
  int32_t n = convert();
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    out.resize(static_cast<std::size_t>(n));
    n = convert();
  }
  if (U_FAILURE(status)) {
    return make_error(Errc::bad_format, std::string("the text cannot be written back as GB18030: ") + u_errorName(status));
  }
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// The text in the object's encoding, with the BOM it came with.
crypto::Result<std::string> encode(std::string_view utf8, const std::string& encoding, std::string_view original) {
  if (encoding == "utf-8") return std::string(utf8);
  if (encoding == "utf-8-bom") return "\xEF\xBB\xBF" + std::string(utf8);
  const std::u16string units = utf16_of(utf8);
  if (encoding == "gb18030") return to_gb18030(units);
  const bool little = encoding == "utf-16le";
  assert((little || encoding == "utf-16be") && "decode_text reports only these encodings");
  std::string out;
  const std::string_view bom = little ? "\xFF\xFE" : "\xFE\xFF";
  if (original.starts_with(bom)) out = bom;
  out.reserve(out.size() + units.size() * 2);
  for (const char16_t u : units) {
    const auto lo = static_cast<char>(u & 0xFF), hi = static_cast<char>(u >> 8);
    out += little ? lo : hi;
    out += little ? hi : lo;
  }
  return out;
}

// ---------------------------------------------------------------------------

bool is_text_type(FileType t) {
  return t == FileType::txt || t == FileType::csv || t == FileType::json || t == FileType::xml;
}

std::string type_name(FileType t) { return std::string(policy::to_string(t)); }

// The result read again as the inspection reads it: it must decode in the
// same encoding, be valid of its type, and hold no value.
crypto::Status recheck(FileType type, std::string_view bytes, const std::string& encoding,
                       const std::vector<PiiKind>& kinds, const TextLimits& limits) {
  crypto::Result<DecodedText> decoded = decode_text(bytes, limits);
  if (!decoded) {
    return make_error(decoded.error().code, "the masked " + type_name(type) + " no longer reads as text: " +
                                                decoded.error().message);
  }
  if (decoded->encoding != encoding) {
    return make_error(Errc::bad_format, "the masked " + type_name(type) + " reads as " + decoded->encoding +
                                            ", not " + encoding + " as before");
  }
  crypto::Result<std::string> text = extract_text(type, bytes, limits);
  if (!text) {
    return make_error(text.error().code, "the masked " + type_name(type) + " is no longer valid: " +
                                             text.error().message);
  }
  const std::optional<std::vector<Span>> left = find_values(*text, kinds);
  if (!left || !left->empty()) {
    std::string what = "personal data";
    if (left) {
      what += " (" + std::string(policy::to_string(left->front().kind)) + ") at " +
              Positions(*text).at(left->front().begin) + " of its text";
    }
    return make_error(Errc::bad_format, what + " is still there after masking (written with escapes, "
                                                       "character references or in markup?): it cannot be masked "
                                                       "in place");
  }
  return {};
}

}  // namespace

std::string mask_value(PiiKind kind, std::string_view value) {
  const std::vector<WrittenChar> chars = split(value);
  std::string out;
  if (kind == PiiKind::email) {
    // The first character and the domain: the local part's length is not shown either.
    std::size_t at = 0;
    while (at < chars.size() && chars[at].folded != '@') ++at;
    if (at < chars.size() && !chars.empty()) {
      out.append(value.substr(0, chars[0].end));
      out.append("***");
      out.append(value.substr(chars[at].begin));
      return out;
    }
  }
  std::size_t n = 0;
  for (const WrittenChar& c : chars) n += !is_separator(c.folded);
  std::size_t front = 0, back = 0;
  switch (kind) {
    case PiiKind::cn_id: front = 6, back = 4; break;     // region and check: where, not who
    case PiiKind::cn_mobile: front = n >= 8 ? n - 8 : 0, back = 4; break;  // (+86 and) the operator prefix
    case PiiKind::bank_card: front = 6, back = 4; break;  // the issuer and the last four, as on receipts
    case PiiKind::uscc: front = 4, back = 2; break;
    case PiiKind::email: front = 1, back = 0; break;     // no '@': nothing but the first character
  }
  if (n <= front + back) front = back = 0;
  std::size_t index = 0;
  for (const WrittenChar& c : chars) {
    if (is_separator(c.folded)) {
      out.append(value.substr(c.begin, c.end - c.begin));
      continue;
    }
    const bool keep = index < front || index >= n - back;
    ++index;
    if (keep) {
      out.append(value.substr(c.begin, c.end - c.begin));
    } else {
      out.append(c.wide ? "\xEF\xBC\x8A" : "*");  // U+FF0A FULLWIDTH ASTERISK
    }
  }
  return out;
}

crypto::Result<Masked> mask_personal_data(FileType type, std::string_view bytes, const std::vector<PiiKind>& kinds,
                                          const TextLimits& limits) {
  if (!is_text_type(type)) {
    return make_error(Errc::bad_format, "personal data in a " + type_name(type) + " cannot be masked safely");
  }
  crypto::Result<DecodedText> decoded = decode_text(bytes, limits);
  if (!decoded) return decoded.error();
  const std::string_view text = decoded->utf8;

  // The object must be valid of its type before it is changed: the token
  // scanners below rely on it, and an error now names the real fault.
  crypto::Result<std::string> readable = std::string();
  if (type == FileType::csv) readable = text_parts::csv_text(text, limits);
  if (type == FileType::json) readable = text_parts::json_text(text, limits);
  if (type == FileType::xml) readable = text_parts::xml_text(text, limits);
  if (!readable) return readable.error();

  Masking masking(text);
  if (type == FileType::json) {
    if (crypto::Status st = mask_json(text, kinds, masking); !st) return st.error();
  } else {
    if (type == FileType::txt && !decoded->alternative.empty()) {
      // decode_text found a second plausible reading (GB18030, or UTF-16
      // without ASCII): which characters a value occupies depends on which
      // reading is true, so no replacement is safe. Text with no value in
      // either reading needs none.
      const std::optional<std::vector<Span>> main = find_values(text, kinds);
      const std::optional<std::vector<Span>> other = find_values(decoded->alternative, kinds);
      if (!main || !other || !main->empty() || !other->empty()) {
        return make_error(Errc::bad_format, "ambiguous encoding: the text reads as " + decoded->encoding +
                                                " and as UTF-16, so its personal data cannot be masked in place");
      }
    }
    if (crypto::Status st = mask_plain(text, kinds, masking); !st) return st.error();
  }

  Masked out;
  if (masking.empty()) {
    out.bytes = std::string(bytes);
  } else {
    // Encodings other than UTF-8 are written back whole; the text must
    // convert back to exactly the bytes it came from, so that only the
    // masked characters change (stateless encodings: each character's bytes
    // depend on that character alone).
    if (decoded->encoding == "gb18030") {
      crypto::Result<std::string> same = encode(text, decoded->encoding, bytes);
      if (!same) return same.error();
      if (*same != bytes) {
        return make_error(Errc::bad_format, "the GB18030 text does not convert back to the same bytes, so it "
                                            "cannot be masked in place");
      }
    }
    crypto::Result<std::string> masked_text = masking.apply(limits.max_text);
    if (!masked_text) return masked_text.error();
    crypto::Result<std::string> encoded = encode(*masked_text, decoded->encoding, bytes);
    if (!encoded) return encoded.error();
    out.bytes = std::move(*encoded);
    out.masked = masking.take_lines();
  }
  if (crypto::Status st = recheck(type, out.bytes, decoded->encoding, kinds, limits); !st) return st.error();
  return out;
}

}  // namespace ferry::pipeline

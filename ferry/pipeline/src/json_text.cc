// JSON text (RFC 8259), parsed by hand: no JSON library is in the base set
// (nlohmann-json would be a new dependency for about two hundred lines), and
// a reader that only collects strings and numbers is small. It is strict:
// the grammar of §2-§7 exactly, one value and nothing after it but white
// space, escapes well formed and surrogate escapes paired (§7), at most
// TextLimits::max_json_depth nested arrays and objects. Numbers are kept as
// written, never converted, so a long digit string (an ID card number) keeps
// every digit.
#include "ferry/pipeline/src/text_parts.h"

namespace ferry::pipeline::text_parts {

namespace {

// §7: the two-character escapes, as pairs of the letter after the backslash
// and the character it stands for.
constexpr std::string_view kShortEscapes = "\"\"\\\\//b\bf\fn\nr\rt\t";

class JsonReader {
 public:
  JsonReader(std::string_view s, const TextLimits& limits) : s_(s), max_depth_(limits.max_json_depth), out_(limits.max_text) {}

  crypto::Result<std::string> read() {
    skip_ws();
    if (crypto::Status st = value(0); !st) return st.error();
    skip_ws();
    if (i_ != s_.size()) return fail("text after the JSON value");
    return out_.take();
  }

 private:
  crypto::Error fail(const std::string& what) const {
    return crypto::make_error(crypto::Errc::bad_format, "JSON: " + what + " at byte " + std::to_string(i_) + " of the text");
  }

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  crypto::Status value(unsigned depth) {
    if (i_ >= s_.size()) return fail("a value is missing");
    switch (s_[i_]) {
      case '{':
      case '[':
        return container(depth + 1);
      case '"': {
        std::string text;
        if (crypto::Status st = string(text); !st) return st;
        return out_.line(text);
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  crypto::Status literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return fail("an unknown literal");
    i_ += word.size();
    return {};
  }

  crypto::Status container(unsigned depth) {
    if (depth > max_depth_) return fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    const bool object = s_[i_] == '{';
    const char close = object ? '}' : ']';
    ++i_;
    skip_ws();
    if (eat(close)) return {};
    while (true) {
      if (object) {
        if (i_ >= s_.size() || s_[i_] != '"') return fail("an object key must be a string");
        std::string key;
        if (crypto::Status st = string(key); !st) return st;
        if (crypto::Status st = out_.line(key); !st) return st;
        skip_ws();
        if (!eat(':')) return fail("':' expected after an object key");
        skip_ws();
      }
      if (crypto::Status st = value(depth); !st) return st;
      skip_ws();
      if (eat(close)) return {};
      if (!eat(',')) return fail(std::string("',' or '") + close + "' expected");
      skip_ws();
    }
  }

  // §6: -? int frac? exp?, int without leading zeros.
  crypto::Status number() {
    const std::size_t start = i_;
    eat('-');
    if (eat('0')) {
    } else if (!digits()) {
      return fail("a value is expected");
    }
    if (eat('.') && !digits()) return fail("digits expected after the decimal point");
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (!digits()) return fail("digits expected in the exponent");
    }
    return out_.line(s_.substr(start, i_ - start));
  }

  bool digits() {
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }

  // Four hex digits after "\u".
  bool hex4(unsigned& v) {
    if (s_.size() - i_ < 4) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return false;
    }
    return true;
  }

  // §7. The input is valid UTF-8 already (decode_text), so bytes other than
  // '"', '\\' and controls are copied as they are.
  crypto::Status string(std::string& text) {
    ++i_;
    while (true) {
      if (i_ >= s_.size()) return fail("a string never closes");
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        return {};
      }
      if (static_cast<unsigned char>(c) < 0x20) return fail("a control character inside a string");
      if (c != '\\') {
        text += c;
        ++i_;
        continue;
      }
      ++i_;
      if (i_ >= s_.size()) return fail("a string never closes");
      const char e = s_[i_++];
      if (e == 'u') {
        unsigned cp = 0;
        if (!hex4(cp)) return fail("\\u needs four hex digits");
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("a low surrogate escape without a high one");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          unsigned low = 0;
          if (s_.substr(i_, 2) != "\\u") return fail("a high surrogate escape without a low one");
          i_ += 2;
          if (!hex4(low)) return fail("\\u needs four hex digits");
          if (low < 0xDC00 || low > 0xDFFF) return fail("a high surrogate escape without a low one");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(text, cp);
        continue;
      }
      const std::size_t k = kShortEscapes.find(e);
      if (k == std::string_view::npos || k % 2 != 0) return fail("an unknown escape");
      text += kShortEscapes[k + 1];
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
  unsigned max_depth_;
  TextOut out_;
};

}  // namespace

crypto::Result<std::string> json_text(std::string_view utf8, const TextLimits& limits) {
  return JsonReader(utf8, limits).read();
}

}  // namespace ferry::pipeline::text_parts

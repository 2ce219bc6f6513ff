#include "ferry/spool/name_rule.h"

#include <cstdint>
#include <cstdio>
#include <string>

namespace ferry::spool {
namespace {

crypto::Error invalid(const std::string& what) {
  return crypto::make_error(crypto::Errc::invalid_argument, "name.invalid: " + what);
}

std::string code_point(std::uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", cp);
  return buf;
}

// Decodes one UTF-8 sequence at s[i] (RFC 3629 §4 syntax); 0 length on error.
struct Decoded {
  std::uint32_t cp;
  std::size_t length;
};
Decoded decode_utf8(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<std::uint8_t>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t n;
  std::uint32_t cp;
  std::uint32_t min;
  if ((b0 & 0xe0) == 0xc0) {
    n = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    n = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {0, 0};
  }
  if (i + n > s.size()) return {0, 0};
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<std::uint8_t>(s[i + k]);
    if ((b & 0xc0) != 0x80) return {0, 0};
    cp = cp << 6 | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {0, 0};
  return {cp, n};
}

}  // namespace

crypto::Status check_relative_name(std::string_view path) {
  if (path.empty()) return invalid("empty name");
  if (path.size() > kMaxRelativeNameBytes) {
    return invalid("path is " + std::to_string(path.size()) + " bytes, over " + std::to_string(kMaxRelativeNameBytes));
  }
  if (path.front() == '/') return invalid("absolute path");
  for (std::size_t i = 0; i < path.size();) {
    const Decoded d = decode_utf8(path, i);
    if (d.length == 0) return invalid("not valid UTF-8 at byte " + std::to_string(i));
    if (d.cp < 0x20 || d.cp == 0x7f || (d.cp >= 0x80 && d.cp <= 0x9f)) {
      return invalid("control character " + code_point(d.cp) + " at byte " + std::to_string(i));
    }
    if ((d.cp >= 0x202a && d.cp <= 0x202e) || (d.cp >= 0x2066 && d.cp <= 0x2069)) {
      return invalid("bidirectional override " + code_point(d.cp) + " at byte " + std::to_string(i));
    }
    i += d.length;
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view component = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (component.empty()) return invalid("empty path component at byte " + std::to_string(start));
    if (component == "." || component == "..") return invalid("'" + std::string(component) + "' path component");
    if (component.size() > kMaxNameComponentBytes) {
      return invalid("path component of " + std::to_string(component.size()) + " bytes, over " +
                     std::to_string(kMaxNameComponentBytes));
    }
    if (component.starts_with(kReservedPrefix)) return invalid("component uses the reserved prefix '.ferry-'");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

}  // namespace ferry::spool

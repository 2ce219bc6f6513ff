// Internal to the text stage: the per-format readers extract_text dispatches
// to, and the bounded buffer they all write into.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "ferry/pipeline/text.h"

namespace ferry::pipeline::text_parts {

// "64MiB" for whole mebibytes, "1000 bytes" otherwise: limits in messages an
// officer reads.
std::string size_name(std::uint64_t bytes);

// c must be a Unicode scalar value (no surrogates).
void append_utf8(std::string& out, char32_t c);

// Extracted text, refused as soon as it would grow beyond max_text.
class TextOut {
 public:
  explicit TextOut(std::uint64_t max_text) : max_(max_text) {}
  crypto::Status append(std::string_view s);
  // s and a line break; nothing for an empty s.
  crypto::Status line(std::string_view s);
  // A line break unless the text is empty or already ends with one.
  crypto::Status end_line();
  std::string take() { return std::move(text_); }

 private:
  std::uint64_t max_;
  std::string text_;
};

crypto::Result<std::string> csv_text(std::string_view utf8, const TextLimits& limits);
crypto::Result<std::string> json_text(std::string_view utf8, const TextLimits& limits);
crypto::Result<std::string> xml_text(std::string_view utf8, const TextLimits& limits);
crypto::Result<std::string> ooxml_text(std::string_view zip, const TextLimits& limits);
crypto::Result<std::string> ofd_text(std::string_view zip, const TextLimits& limits);
crypto::Result<std::string> pdf_text(std::string_view pdf, const TextLimits& limits);

}  // namespace ferry::pipeline::text_parts

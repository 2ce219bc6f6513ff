// UTF-8 validity (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF). Policy terms and names are matched byte-wise after
// normalisation, so a malformed sequence must be refused where it is written.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::policy::detail {

// Offset of the first byte that does not start or continue a valid
// sequence, or std::string_view::npos when all of `s` is valid.
std::size_t first_invalid_utf8(std::string_view s);

// 1-based line and column (in bytes) of `offset` in `text`.
struct LineColumn {
  int line;
  int column;
};
LineColumn line_column_at(std::string_view text, std::size_t offset);

}  // namespace ferry::policy::detail

#include "policy/src/term_list.h"

#include "policy/src/utf8.h"

namespace ferry::policy::detail {

TermFile parse_term_file(std::string_view text) {
  TermFile out;
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  std::size_t bom = text.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
  int line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    ++line_no;
    std::size_t column_base = 1;
    if (line_no == 1 && bom != 0) {
      line.remove_prefix(bom);
      column_base += bom;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = end + 1;

    if (std::size_t bad = first_invalid_utf8(line); bad != std::string_view::npos) {
      out.problems.push_back({line_no, static_cast<int>(column_base + bad), "not valid UTF-8"});
      continue;
    }
    bool control = false;
    for (std::size_t i = 0; i < line.size() && !control; ++i) {
      const auto u = static_cast<unsigned char>(line[i]);
      if ((u < 0x20 && u != '\t') || u == 0x7f) {
        out.problems.push_back({line_no, static_cast<int>(column_base + i), "control character in a term"});
        control = true;
      }
    }
    if (control) continue;
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    const std::size_t last = line.find_last_not_of(" \t");
    out.terms.emplace_back(line.substr(first, last - first + 1));
  }
  return out;
}

}  // namespace ferry::policy::detail

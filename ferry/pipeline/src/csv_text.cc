// CSV cells (RFC 4180 §2), parsed by hand: the format is a dozen lines of
// grammar and no CSV library is in the base set. Deviations, all in the
// direction of reading more rather than less: a record may end with LF as
// well as CRLF, and a quote inside an unquoted field is an ordinary
// character. A quoted field that never closes, or text after a closing
// quote, is an error: the cell boundaries would be a guess.
#include <cstddef>

#include "ferry/pipeline/src/text_parts.h"

namespace ferry::pipeline::text_parts {

crypto::Result<std::string> csv_text(std::string_view s, const TextLimits& limits) {
  TextOut out(limits.max_text);
  std::size_t i = 0;
  std::size_t line = 1;
  std::string cell;
  while (i < s.size()) {
    cell.clear();
    if (s[i] == '"') {
      const std::size_t opened_on = line;
      ++i;
      while (true) {
        const std::size_t q = s.find('"', i);
        if (q == std::string_view::npos) {
          return crypto::make_error(crypto::Errc::bad_format,
                                    "CSV: the quoted field opened on line " + std::to_string(opened_on) + " never closes");
        }
        for (std::size_t k = i; k < q; ++k) line += s[k] == '\n';
        cell.append(s.substr(i, q - i));
        i = q + 1;
        if (i < s.size() && s[i] == '"') {
          cell += '"';
          ++i;
          continue;
        }
        break;
      }
      if (i < s.size() && s[i] != ',' && s[i] != '\n' && s.substr(i, 2) != "\r\n") {
        return crypto::make_error(crypto::Errc::bad_format,
                                  "CSV line " + std::to_string(line) + ": text after a closing quote");
      }
    } else {
      const std::size_t start = i;
      const std::size_t stop = s.find_first_of(",\n", i);
      i = stop == std::string_view::npos ? s.size() : stop;
      std::size_t end = i;
      if (i < s.size() && s[i] == '\n' && end > start && s[end - 1] == '\r') --end;
      cell.assign(s.substr(start, end - start));
    }
    if (crypto::Status st = out.line(cell); !st) return st.error();
    if (i >= s.size()) break;
    if (s[i] == ',') {
      ++i;
      if (i == s.size()) break;
      continue;
    }
    i += s[i] == '\r' ? 2 : 1;
    ++line;
  }
  return out.take();
}

}  // namespace ferry::pipeline::text_parts

// The text of a keyword list file (`lists: NAME: { file: PATH }`): one
// UTF-8 term per line; blank lines and lines whose first non-blank character
// is '#' are skipped; spaces and tabs around a term are not part of it (a
// term may contain inner spaces: "OPERATION SKYFALL"). A UTF-8 byte order
// mark and CRLF line ends are accepted. A '#' after a term is part of the
// term, since markings like "秘密★#3" exist.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ferry::policy::detail {

struct TermFileProblem {
  int line;
  int column;  // in bytes, 1-based
  std::string message;
};

struct TermFile {
  std::vector<std::string> terms;
  std::vector<TermFileProblem> problems;
};

TermFile parse_term_file(std::string_view text);

}  // namespace ferry::policy::detail

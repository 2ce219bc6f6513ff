// One problem found in a document an operator wrote (policy, config, a list
// file), with the place and the key, so the message can be acted on without
// reading the loader: "policy.yaml:31:15: channels[docs-in].max_size: ...".
#pragma once

#include <string>
#include <vector>

namespace ferry::policy {

// 1-based line and column; 0 when the problem has no place in the text (the
// file cannot be read). The column counts bytes, as yaml-cpp and GCC do, so
// on a line of Chinese text it is further right than an editor's.
struct Position {
  int line = 0;
  int column = 0;
};

struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  // Where in the document, as a path of keys: "serial",
  // "channels[docs-in].archives.max_ratio", "lists.codenames". Empty for
  // problems of the text itself (a YAML syntax error).
  std::string key;
  std::string message;
  std::string hint;  // what to write instead; may be empty

  // "FILE:LINE:COL: KEY: MESSAGE (hint: HINT)"; the parts that are unknown
  // or empty are left out ("FILE: MESSAGE" for an unreadable file).
  std::string to_string() const;
};

// One diagnostic per line, in order.
std::string to_string(const std::vector<Diagnostic>& diagnostics);

}  // namespace ferry::policy

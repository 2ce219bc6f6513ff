// A strict reader over yaml-cpp nodes, shared by the policy and config
// loaders. Operators' documents are read the way OpenSSH reads sshd_config:
// an unknown key, a wrong type or a value out of range is an error naming the
// file, line, column and key, never a silent default. Every problem of a
// document is collected (up to a cap), not just the first.
//
// The typed readers return std::nullopt after recording a diagnostic, so a
// loader reads every key, keeps what parsed, and decides at the end from
// Diagnostics::empty() whether the document is usable.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostic.h"
#include "policy/named.h"

namespace ferry::policy::yaml {

// yaml-cpp marks are 0-based and -1 when unknown; ours are 1-based and 0.
Position position_of(const YAML::Mark& mark);

// The problems of one document. After `limit` of them one last diagnostic
// says the rest were left out, so hostile input cannot make an error list
// without bound.
class Diagnostics {
 public:
  static constexpr std::size_t kDefaultLimit = 100;

  explicit Diagnostics(std::string file, std::size_t limit = kDefaultLimit);

  void add(Position at, std::string key, std::string message, std::string hint = {});
  // A problem in another file the document refers to (a keyword list file).
  void add_in(std::string file, Position at, std::string key, std::string message, std::string hint = {});

  const std::string& file() const { return file_; }
  bool empty() const { return list_.empty(); }
  std::size_t size() const { return list_.size(); }
  const std::vector<Diagnostic>& list() const { return list_; }
  // The diagnostics in reading order: by line and column, the document's
  // own before those of files it refers to, unplaced ones last.
  std::vector<Diagnostic> take();

 private:
  std::string file_;
  std::size_t limit_;
  std::vector<Diagnostic> list_;
};

// Parses `text` as exactly one YAML document and returns its root (a Null
// node for an empty document or one of comments only). Refused, each with
// its position: bytes that are not UTF-8 or are NUL, syntax errors, nesting
// deeper than yaml-cpp's guard, a second document, anchors and aliases (a
// ferry document says each thing once; an alias can multiply what a loader
// walks), and explicit tags (`!!str`, `!custom`): types come from the schema.
// Exceptions from yaml-cpp never escape.
std::optional<YAML::Node> parse_document(std::string_view text, Diagnostics& diag);

using policy::Named;
using policy::name_of;
using policy::names_of;

class Mapping;

// A node and where it is: the key path ("channels[docs-in].max_size") and
// the position diagnostics point at (the value, or for an empty value the
// key). Cheap to copy; refers to the Diagnostics it reports into.
class Field {
 public:
  Field(YAML::Node node, std::string path, Position at, Diagnostics& diag);

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  Position position() const { return at_; }
  Diagnostics& diagnostics() const { return *diag_; }

  // The same node reported under another path (a channel item named by its
  // name rather than its index).
  Field renamed(std::string path) const;

  void error(std::string message, std::string hint = {}) const;

  bool is_null() const { return node_.IsNull(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_mapping() const { return node_.IsMap(); }

  // Any scalar, quoted or not, as UTF-8 text without control characters
  // (tab allowed). Nothing (`key:`) is not a string.
  std::optional<std::string> string() const;
  // A string that is not empty.
  std::optional<std::string> nonempty_string() const;
  // `true` or `false`, unquoted.
  std::optional<bool> boolean() const;
  // Decimal digits, unquoted, within [min, max].
  std::optional<std::uint64_t> unsigned_integer(
      std::uint64_t min = 0, std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const;
  // A size (policy/size.h), quoted or not, within [min, max].
  std::optional<std::uint64_t> size(
      std::uint64_t min = 0, std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const;
  // One of `names`: its index. An unknown name lists the known ones as hint.
  std::optional<std::size_t> one_of(std::span<const std::string_view> names) const;

  template <class E>
  std::optional<E> choice(std::span<const Named<E>> table) const {
    std::vector<std::string_view> names;
    for (const Named<E>& n : table) names.push_back(n.name);
    std::optional<std::size_t> i = one_of(names);
    if (!i) return std::nullopt;
    return table[*i].value;
  }

  // A sequence; its items are reported as "path[i]".
  std::optional<std::vector<Field>> sequence() const;
  // A sequence of strings (each as string()).
  std::optional<std::vector<std::string>> string_list() const;
  // A sequence of names from `table`, each at most once, in document order.
  template <class E>
  std::optional<std::vector<E>> choice_list(std::span<const Named<E>> table) const {
    std::optional<std::vector<Field>> items = sequence();
    if (!items) return std::nullopt;
    std::vector<E> out;
    bool ok = true;
    for (const Field& item : *items) {
      std::optional<E> v = item.choice(table);
      if (!v) {
        ok = false;
        continue;
      }
      bool seen = false;
      for (E e : out) seen = seen || e == *v;
      if (seen) {
        item.error("'" + std::string(name_of(table, *v)) + "' is listed twice");
        ok = false;
        continue;
      }
      out.push_back(*v);
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // A mapping whose keys must be among `allowed`: an unknown key is reported
  // (naming it, with the allowed ones as hint) and left out of the result.
  std::optional<Mapping> mapping(std::initializer_list<std::string_view> allowed) const;
  std::optional<Mapping> mapping(std::span<const std::string_view> allowed) const;
  // A mapping from names the document chooses (list names, channel names).
  std::optional<Mapping> any_mapping() const;

  // "a mapping", "a list", "nothing", "the string \"7\"", "7": what was
  // found, for messages.
  std::string describe() const;

 private:
  std::optional<std::string> plain_scalar(std::string_view expected) const;
  std::optional<Mapping> read_mapping(std::span<const std::string_view> allowed, bool any_key) const;

  YAML::Node node_;
  std::string path_;
  Position at_;
  Diagnostics* diag_;
};

// A mapping read from a document: scalar keys only, each at most once.
class Mapping {
 public:
  struct Entry {
    std::string key;
    Field key_field;  // points at the key itself
    Field value;
  };

  const std::string& path() const { return path_; }
  Position position() const { return at_; }
  const std::vector<Entry>& entries() const { return entries_; }

  const Entry* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  std::optional<Field> get(std::string_view key) const;
  // Absent: "missing required key" at the mapping's position.
  std::optional<Field> require(std::string_view key) const;
  // Reports a key that is known but does not belong here (routes on a file
  // channel), pointing at the key. Does nothing when the key is absent.
  void refuse(std::string_view key, std::string message, std::string hint = {}) const;

  // "path.key" (or "key" at the top).
  std::string child_path(std::string_view key) const;

 private:
  friend class Field;
  Mapping(std::string path, Position at, Diagnostics& diag) : path_(std::move(path)), at_(at), diag_(&diag) {}

  std::string path_;
  Position at_;
  Diagnostics* diag_;
  std::vector<Entry> entries_;
};

// The root of a document as a Field with an empty path.
Field root_field(const YAML::Node& root, Diagnostics& diag);

}  // namespace ferry::policy::yaml

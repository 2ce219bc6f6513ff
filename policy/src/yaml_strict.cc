#include "policy/yaml_strict.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <climits>
#include <tuple>
#include <sstream>

#include "policy/size.h"
#include "policy/src/utf8.h"

namespace ferry::policy::yaml {
namespace {

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Levenshtein distance, capped: only to suggest "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_name_hint(std::string_view got, std::span<const std::string_view> known,
                              std::string_view what) {
  std::string hint;
  if (got.size() <= 64) {
    std::string_view best;
    std::size_t best_d = 3;  // suggest only close misspellings
    for (std::string_view k : known) {
      const std::size_t d = edit_distance(got, k);
      if (d < best_d) best = k, best_d = d;
    }
    if (!best.empty()) hint = "did you mean '" + std::string(best) + "'? ";
  }
  return hint + std::string(what) + ": " + join(known);
}

// Quoted for messages, shortened so a hostile megabyte does not end up in a
// log line.
std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 60;
  std::string out = "\"";
  for (char c : s.substr(0, kMax)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

// First pass over the event stream: what yaml-cpp would accept but a ferry
// document may not contain.
class StrictEvents : public YAML::EventHandler {
 public:
  explicit StrictEvents(Diagnostics& diag) : diag_(diag) {}

  int documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ == 2) {
      diag_.add(position_of(mark), "", "a second YAML document in the same file",
                "a ferry document is one YAML document; remove the '---' separator and what follows");
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { check(mark, anchor, ""); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    diag_.add(position_of(mark), "", "aliases (*name) are not allowed", "write the value out where it is used");
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string&) override {
    check(mark, anchor, tag);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    check(mark, anchor, tag);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    check(mark, anchor, tag);
  }
  void OnMapEnd() override {}

 private:
  void check(const YAML::Mark& mark, YAML::anchor_t anchor, const std::string& tag) {
    if (anchor != YAML::NullAnchor) {
      diag_.add(position_of(mark), "", "anchors (&name) are not allowed", "write the value out where it is used");
    }
    // "?" is a plain node, "!" a quoted scalar, "" a null: anything else was
    // written as an explicit tag.
    if (!tag.empty() && tag != "?" && tag != "!") {
      diag_.add(position_of(mark), "", "explicit tag " + quote(tag) + " is not allowed",
                "the schema decides each value's type; remove the tag");
    }
  }

  Diagnostics& diag_;
  int documents_ = 0;
};

void add_yaml_error(Diagnostics& diag, const YAML::Exception& e) {
  std::string msg = e.msg.empty() ? std::string("malformed YAML") : e.msg;
  diag.add(position_of(e.mark), "", "YAML syntax error: " + msg);
}

}  // namespace

Position position_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

Diagnostics::Diagnostics(std::string file, std::size_t limit) : file_(std::move(file)), limit_(limit) {}

void Diagnostics::add(Position at, std::string key, std::string message, std::string hint) {
  add_in(file_, at, std::move(key), std::move(message), std::move(hint));
}

void Diagnostics::add_in(std::string file, Position at, std::string key, std::string message, std::string hint) {
  if (list_.size() > limit_) return;
  if (list_.size() == limit_) {
    list_.push_back(Diagnostic{file_, 0, 0, "", "more than " + std::to_string(limit_) + " errors; the rest are not shown", ""});
    return;
  }
  list_.push_back(Diagnostic{std::move(file), at.line, at.column, std::move(key), std::move(message), std::move(hint)});
}

std::vector<Diagnostic> Diagnostics::take() {
  auto key = [this](const Diagnostic& d) {
    return std::make_tuple(d.file != file_, d.file, d.line == 0 ? INT_MAX : d.line, d.column);
  };
  std::stable_sort(list_.begin(), list_.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
  return std::move(list_);
}

std::optional<YAML::Node> parse_document(std::string_view text, Diagnostics& diag) {
  if (std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    const detail::LineColumn lc = detail::line_column_at(text, nul);
    diag.add({lc.line, lc.column}, "", "NUL byte in the document", "a ferry document is UTF-8 text");
    return std::nullopt;
  }
  if (std::size_t bad = detail::first_invalid_utf8(text); bad != std::string_view::npos) {
    const detail::LineColumn lc = detail::line_column_at(text, bad);
    diag.add({lc.line, lc.column}, "", "not valid UTF-8", "save the file as UTF-8");
    return std::nullopt;
  }
  const std::size_t before = diag.size();
  try {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    StrictEvents events(diag);
    while (events.documents() < 2 && parser.HandleNextDocument(events)) {
    }
    if (diag.size() != before) return std::nullopt;
    return YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    diag.add(position_of(e.mark), "", "nesting is deeper than " + std::to_string(e.depth()) + " levels");
  } catch (const YAML::Exception& e) {
    add_yaml_error(diag, e);
  }
  return std::nullopt;
}

Field root_field(const YAML::Node& root, Diagnostics& diag) {
  Position at = position_of(root.Mark());
  if (at.line == 0) at = {1, 1};
  return Field(root, "", at, diag);
}

// --- Field ---------------------------------------------------------------

Field::Field(YAML::Node node, std::string path, Position at, Diagnostics& diag)
    : node_(std::move(node)), path_(std::move(path)), at_(at), diag_(&diag) {}

Field Field::renamed(std::string path) const {
  Field f = *this;
  f.path_ = std::move(path);
  return f;
}

void Field::error(std::string message, std::string hint) const {
  diag_->add(at_, path_, std::move(message), std::move(hint));
}

std::string Field::describe() const {
  if (!node_.IsDefined() || node_.IsNull()) return "nothing";
  if (node_.IsMap()) return "a mapping";
  if (node_.IsSequence()) return "a list";
  if (is_quoted(node_)) return "the quoted string " + quote(node_.Scalar());
  return quote(node_.Scalar());
}

std::optional<std::string> Field::string() const {
  if (!node_.IsScalar()) {
    error("expected a string, got " + describe());
    return std::nullopt;
  }
  const std::string& s = node_.Scalar();
  if (detail::first_invalid_utf8(s) != std::string_view::npos) {
    error("not valid UTF-8");
    return std::nullopt;
  }
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      error("control character in " + quote(s));
      return std::nullopt;
    }
  }
  return s;
}

std::optional<std::string> Field::nonempty_string() const {
  std::optional<std::string> s = string();
  if (s && s->empty()) {
    error("must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> Field::plain_scalar(std::string_view expected) const {
  if (!node_.IsScalar()) {
    error("expected " + std::string(expected) + ", got " + describe());
    return std::nullopt;
  }
  if (is_quoted(node_)) {
    error("expected " + std::string(expected) + ", got " + describe(), "write it without quotes");
    return std::nullopt;
  }
  return node_.Scalar();
}

std::optional<bool> Field::boolean() const {
  std::optional<std::string> s = plain_scalar("true or false");
  if (!s) return std::nullopt;
  if (*s == "true") return true;
  if (*s == "false") return false;
  error("expected true or false, got " + describe());
  return std::nullopt;
}

std::optional<std::uint64_t> Field::unsigned_integer(std::uint64_t min, std::uint64_t max) const {
  std::optional<std::string> s = plain_scalar("a whole number");
  if (!s) return std::nullopt;
  if (!s->empty() && s->front() == '-') {
    error("must not be negative, got " + describe());
    return std::nullopt;
  }
  if (s->empty() || !std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const bool fraction = s->find('.') != std::string::npos &&
                          std::all_of(s->begin(), s->end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    error(fraction ? "expected a whole number, got the fraction " + describe()
                   : "expected a whole number, got " + describe());
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : *s) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      error("number is too large", "at most " + std::to_string(max));
      return std::nullopt;
    }
    v = v * 10 + digit;
  }
  if (v < min || v > max) {
    error("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + *s);
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> Field::size(std::uint64_t min, std::uint64_t max) const {
  if (!node_.IsScalar()) {
    error("expected a size, got " + describe(), std::string(kSizeSyntaxHint));
    return std::nullopt;
  }
  crypto::Result<std::uint64_t> v = parse_size(node_.Scalar());
  if (!v.ok()) {
    error("malformed size " + quote(node_.Scalar()) + ": " + v.error().message, std::string(kSizeSyntaxHint));
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    error("size " + quote(node_.Scalar()) + " is out of range",
          "between " + format_size(min) + " and " + format_size(max));
    return std::nullopt;
  }
  return *v;
}

std::optional<std::size_t> Field::one_of(std::span<const std::string_view> names) const {
  if (!node_.IsScalar()) {
    error("expected one of " + join(names) + ", got " + describe());
    return std::nullopt;
  }
  const std::string& s = node_.Scalar();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == s) return i;
  }
  error("unknown value " + quote(s), unknown_name_hint(s, names, "known values"));
  return std::nullopt;
}

std::optional<std::vector<Field>> Field::sequence() const {
  if (!node_.IsSequence()) {
    error("expected a list, got " + describe());
    return std::nullopt;
  }
  std::vector<Field> out;
  std::size_t i = 0;
  for (const YAML::Node& item : node_) {
    Position at = position_of(item.Mark());
    if (item.IsNull() || at.line == 0) at = at_;
    out.emplace_back(item, path_ + "[" + std::to_string(i) + "]", at, *diag_);
    ++i;
  }
  return out;
}

std::optional<std::vector<std::string>> Field::string_list() const {
  std::optional<std::vector<Field>> items = sequence();
  if (!items) return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (const Field& item : *items) {
    std::optional<std::string> s = item.string();
    if (s) {
      out.push_back(std::move(*s));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Mapping> Field::mapping(std::initializer_list<std::string_view> allowed) const {
  return mapping(std::span<const std::string_view>(allowed.begin(), allowed.size()));
}

std::optional<Mapping> Field::mapping(std::span<const std::string_view> allowed) const {
  return read_mapping(allowed, false);
}

std::optional<Mapping> Field::any_mapping() const { return read_mapping({}, true); }

std::optional<Mapping> Field::read_mapping(std::span<const std::string_view> allowed, bool any_key) const {
  if (!node_.IsMap()) {
    error("expected a mapping (key: value), got " + describe());
    return std::nullopt;
  }
  Mapping m(path_, at_, *diag_);
  for (const auto& kv : node_) {
    // Copies: Node is a handle, and binding references to the iterator's
    // proxy members trips GCC 12's -Wdangling-pointer.
    const YAML::Node key = kv.first;
    const YAML::Node value = kv.second;
    Position key_at = position_of(key.Mark());
    if (key_at.line == 0) key_at = at_;
    if (!key.IsScalar()) {
      diag_->add(key_at, path_, "a key must be a plain name, got " + Field(key, path_, key_at, *diag_).describe());
      continue;
    }
    const std::string& name = key.Scalar();
    const std::string path = m.child_path(name);
    if (const Mapping::Entry* first = m.find(name)) {
      diag_->add(key_at, path, "duplicate key " + quote(name),
                 "first given at line " + std::to_string(first->key_field.position().line));
      continue;
    }
    if (!any_key && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      diag_->add(key_at, path, "unknown key " + quote(name), unknown_name_hint(name, allowed, "allowed here"));
      continue;
    }
    // An empty value's mark is wherever the next token starts; the key is
    // where the operator has to look.
    Position value_at = position_of(value.Mark());
    if (value.IsNull() || value_at.line == 0) value_at = key_at;
    m.entries_.push_back(Mapping::Entry{name, Field(key, path, key_at, *diag_), Field(value, path, value_at, *diag_)});
  }
  return m;
}

// --- Mapping -------------------------------------------------------------

std::string Mapping::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const Mapping::Entry* Mapping::find(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::optional<Field> Mapping::get(std::string_view key) const {
  if (const Entry* e = find(key)) return e->value;
  return std::nullopt;
}

std::optional<Field> Mapping::require(std::string_view key) const {
  if (const Entry* e = find(key)) return e->value;
  diag_->add(at_, child_path(key), "missing required key '" + std::string(key) + "'");
  return std::nullopt;
}

void Mapping::refuse(std::string_view key, std::string message, std::string hint) const {
  if (const Entry* e = find(key)) e->key_field.error(std::move(message), std::move(hint));
}

}  // namespace ferry::policy::yaml

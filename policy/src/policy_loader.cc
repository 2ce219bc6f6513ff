// Reads ferry-policy/1 strictly: each key of the schema is read by name, so
// the order in the document does not matter (lists may follow the channels
// that use them), and every problem found is reported before giving up.
#include <algorithm>
#include <filesystem>

#include "crypto/bytes.h"
#include "policy/policy.h"
#include "policy/size.h"
#include "policy/src/regular_file.h"
#include "policy/src/term_list.h"
#include "policy/yaml_strict.h"

namespace ferry::policy {
namespace {

using yaml::Diagnostics;
using yaml::Field;
using yaml::Mapping;

constexpr std::array<std::string_view, 5> kTopKeys = {"schema", "serial", "description", "lists", "channels"};
constexpr std::array<std::string_view, 13> kChannelKeys = {
    "name", "direction", "kind", "allow_types", "max_size", "archives", "antivirus",
    "sanitize", "deny_keywords", "pii", "approval", "routes", "response"};
constexpr std::array<std::string_view, 2> kApprovalKeys = {"required", "reviewers"};
// More officers than a county boundary has; a typo like 22 is caught.
constexpr std::uint64_t kMaxReviewers = 5;
constexpr std::array<std::string_view, 4> kArchiveKeys = {"max_depth", "max_entries", "max_ratio", "max_expanded"};
constexpr std::array<std::string_view, 2> kPiiKeys = {"detect", "action"};
constexpr std::array<std::string_view, 3> kRouteKeys = {"method", "path", "content_type"};
constexpr std::array<std::string_view, 3> kResponseKeys = {"allow_types", "deny_keywords", "pii"};

constexpr std::uint64_t kMaxObjectSize = std::uint64_t{1} << 40;  // 1 TiB
constexpr std::uint64_t kMaxArchiveDepth = 16;
constexpr std::uint64_t kMaxArchiveEntries = 10'000'000;
constexpr std::uint64_t kMaxArchiveRatio = 100'000;

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out.empty() ? "(none)" : out;
}

bool http_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// "type/subtype" (RFC 9110 §8.3.1), without parameters.
bool valid_media_type(std::string_view s) {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i != slash && !http_token_char(s[i])) return false;
  }
  return true;
}

// An absolute path, with "{name}" standing for one whole segment; no query,
// fragment, dot segments or characters that would need percent-encoding.
std::optional<std::string> route_path_problem(std::string_view p) {
  if (p.empty() || p.front() != '/') return "a route path starts with '/'";
  std::size_t start = 1;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    const std::string_view seg = p.substr(start, end - start);
    if (seg == "." || seg == "..") return "dot segments are not allowed in a route path";
    const bool is_parameter = seg.size() >= 3 && seg.front() == '{' && seg.back() == '}';
    const std::string_view body = is_parameter ? seg.substr(1, seg.size() - 2) : seg;
    for (char c : body) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view("-._~").find(c) != std::string_view::npos;
      if (!ok) return "character '" + std::string(1, c) + "' is not allowed in a route path";
    }
    if (seg.empty() && end != p.size()) return "empty segment ('//') in a route path";
    start = end + 1;
  }
  return std::nullopt;
}

class PolicyReader {
 public:
  PolicyReader(std::string_view text, std::string display_name, std::string base_dir)
      : text_(text), diag_(std::move(display_name)), base_dir_(std::move(base_dir)) {}

  PolicyLoad run() {
    policy_.source = diag_.file();
    policy_.sm3 = crypto::Sm3::digest(crypto::as_bytes(text_));
    std::optional<YAML::Node> root = yaml::parse_document(text_, diag_);
    if (root) read_document(*root);
    PolicyLoad out;
    if (diag_.empty()) {
      out.policy = std::move(policy_);
    } else {
      out.errors = diag_.take();
    }
    return out;
  }

 private:
  void read_document(const YAML::Node& root) {
    const Field top = yaml::root_field(root, diag_);
    if (top.is_null()) {
      top.error("empty document", "a policy starts with 'schema: ferry-policy/1'");
      return;
    }
    std::optional<Mapping> doc = top.mapping(kTopKeys);
    if (!doc) return;

    if (std::optional<Field> f = doc->require("schema")) {
      if (std::optional<std::string> s = f->string(); s && *s != kPolicySchema) {
        f->error("unsupported schema \"" + *s + "\"", "this version reads " + std::string(kPolicySchema));
      }
    }
    if (std::optional<Field> f = doc->require("serial")) {
      if (std::optional<std::uint64_t> v = f->unsigned_integer()) policy_.serial = *v;
    }
    if (std::optional<Field> f = doc->get("description")) {
      if (std::optional<std::string> s = f->string()) policy_.description = *s;
    }
    if (std::optional<Field> f = doc->get("lists")) read_lists(*f);
    if (std::optional<Field> f = doc->require("channels")) read_channels(*f);
  }

  // --- lists ---

  void read_lists(const Field& f) {
    std::optional<Mapping> lists = f.any_mapping();
    if (!lists) return;
    for (const Mapping::Entry& e : lists->entries()) {
      declared_lists_.push_back(e.key);
      if (!valid_name(e.key)) {
        e.key_field.error("invalid list name \"" + e.key + "\"", std::string(kNameRuleHint));
        continue;
      }
      TermList list;
      list.name = e.key;
      list.position = e.key_field.position();
      if (read_terms(e.value, list)) policy_.lists.push_back(std::move(list));
    }
  }

  bool read_terms(const Field& f, TermList& list) {
    if (f.is_mapping()) return read_term_file(f, list);
    if (!f.is_sequence()) {
      f.error("expected a list of terms or { file: PATH }, got " + f.describe());
      return false;
    }
    std::optional<std::vector<Field>> items = f.sequence();
    bool ok = true;
    for (const Field& item : *items) {
      std::optional<std::string> term = item.string();
      if (term && term->empty()) {
        item.error("empty term", "an empty term would match everything; remove it");
        term.reset();
      }
      if (!term) {
        ok = false;
        continue;
      }
      list.terms.push_back(std::move(*term));
    }
    if (ok && list.terms.empty()) {
      f.error("list has no terms", "a keyword list that matches nothing protects nothing");
      return false;
    }
    return ok;
  }

  bool read_term_file(const Field& f, TermList& list) {
    std::optional<Mapping> m = f.mapping({"file"});
    if (!m) return false;
    std::optional<Field> file = m->require("file");
    if (!file) return false;
    std::optional<std::string> rel = file->nonempty_string();
    if (!rel) return false;
    const std::string path = resolve(*rel);
    crypto::Result<std::string> text = detail::read_regular_file(path, kMaxListFileSize);
    if (!text.ok()) {
      file->error("cannot read list file " + path + ": " + text.error().message,
                  "relative paths are resolved against the policy file's directory");
      return false;
    }
    detail::TermFile parsed = detail::parse_term_file(*text);
    for (const detail::TermFileProblem& p : parsed.problems) {
      diag_.add_in(path, {p.line, p.column}, "lists." + list.name, p.message,
                   "one UTF-8 term per line; '#' starts a comment line");
    }
    if (!parsed.problems.empty()) return false;
    if (parsed.terms.empty()) {
      file->error("list file " + path + " has no terms", "a keyword list that matches nothing protects nothing");
      return false;
    }
    list.terms = std::move(parsed.terms);
    list.file = TermList::Source{path, crypto::Sm3::digest(crypto::as_bytes(*text))};
    return true;
  }

  std::string resolve(const std::string& p) const {
    std::filesystem::path path(p);
    if (path.is_relative()) path = std::filesystem::path(base_dir_.empty() ? "." : base_dir_) / path;
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(path, ec);
    return (ec ? path : abs).lexically_normal().string();
  }

  // --- channels ---

  void read_channels(const Field& f) {
    std::optional<std::vector<Field>> items = f.sequence();
    if (!items) return;
    for (const Field& item : *items) {
      if (std::optional<Channel> c = read_channel(item)) policy_.channels.push_back(std::move(*c));
    }
  }

  // The channel's name, looked up before the channel is read so that all of
  // its problems are reported under "channels[NAME]" rather than an index.
  static std::optional<std::string> peek_name(const YAML::Node& node) {
    if (!node.IsMap()) return std::nullopt;
    for (const auto& kv : node) {
      const YAML::Node key = kv.first;
      const YAML::Node value = kv.second;
      if (key.IsScalar() && key.Scalar() == "name") {
        if (value.IsScalar() && valid_name(value.Scalar())) return value.Scalar();
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  std::optional<Channel> read_channel(const Field& raw) {
    const std::optional<std::string> peeked = peek_name(raw.node());
    const Field item = peeked ? raw.renamed("channels[" + *peeked + "]") : raw;
    std::optional<Mapping> m = item.mapping(kChannelKeys);
    if (!m) return std::nullopt;
    const std::size_t errors_before = diag_.size();
    Channel c;
    c.position = item.position();

    if (std::optional<Field> f = m->require("name")) {
      if (std::optional<std::string> s = f->string()) {
        if (!valid_name(*s)) {
          f->error("invalid channel name \"" + *s + "\"", std::string(kNameRuleHint));
        } else if (auto first = std::find_if(seen_channels_.begin(), seen_channels_.end(),
                                             [&](const auto& p) { return p.first == *s; });
                   first != seen_channels_.end()) {
          f->error("duplicate channel name \"" + *s + "\"",
                   "first defined at line " + std::to_string(first->second) + "; channel names are unique");
        } else {
          c.name = *s;
          seen_channels_.emplace_back(*s, f->position().line);
        }
      }
    }
    std::optional<Direction> direction;
    std::optional<ChannelKind> kind;
    if (std::optional<Field> f = m->require("direction")) direction = f->choice<Direction>(kDirectionNames);
    if (std::optional<Field> f = m->require("kind")) kind = f->choice<ChannelKind>(kChannelKindNames);
    if (direction) c.direction = *direction;
    if (kind) c.kind = *kind;

    if (std::optional<Field> f = m->require("max_size")) {
      if (std::optional<std::uint64_t> v = f->size(1, kMaxObjectSize)) c.max_size = *v;
    }
    const bool request = kind == ChannelKind::request;
    if (std::optional<Field> f = kind && !request ? m->require("allow_types") : m->get("allow_types")) {
      if (auto v = f->choice_list<FileType>(kFileTypeNames)) c.allow_types = std::move(*v);
    }
    if (std::optional<Field> f = m->get("archives")) read_archives(*f, c);
    if (std::optional<Field> f = m->get("antivirus")) {
      if (auto v = f->choice<Antivirus>(kAntivirusNames)) c.antivirus = *v;
    }
    if (std::optional<Field> f = m->get("sanitize")) {
      if (auto v = f->choice_list<SanitizeStep>(kSanitizeStepNames)) c.sanitize = std::move(*v);
    }
    if (std::optional<Field> f = m->get("deny_keywords")) c.deny_keywords = read_list_refs(*f);
    if (std::optional<Field> f = m->get("pii")) c.pii = read_pii(*f);
    if (std::optional<Field> f = m->get("approval")) read_approval(*f, c);

    if (kind && !request) {
      const std::string hint = "kind is " + std::string(to_string(*kind)) + "; only a request channel has it";
      m->refuse("routes", "routes on a " + std::string(to_string(*kind)) + " channel", hint);
      m->refuse("response", "response on a " + std::string(to_string(*kind)) + " channel", hint);
    }
    if (request) {
      m->refuse("approval", "approval on a request channel",
                "a request is answered while the client waits; it cannot wait for an officer");
      if (std::optional<Field> f = m->get("routes")) {
        c.routes = read_routes(*f);
      } else {
        item.renamed(m->child_path("routes"))
            .error("a request channel without routes",
                   "list the API routes it may reach: routes: [{ method: GET, path: /api/v1/... }]");
      }
      if (std::optional<Field> f = m->get("response")) c.response = read_response(*f);
    }

    if (diag_.size() != errors_before) return std::nullopt;
    return c;
  }

  void read_archives(const Field& f, Channel& c) {
    std::optional<Mapping> m = f.mapping(kArchiveKeys);
    if (!m) return;
    c.archives_given = true;
    if (std::optional<Field> v = m->get("max_depth")) {
      if (auto n = v->unsigned_integer(0, kMaxArchiveDepth)) c.archives.max_depth = static_cast<std::uint32_t>(*n);
    }
    if (std::optional<Field> v = m->get("max_entries")) {
      if (auto n = v->unsigned_integer(1, kMaxArchiveEntries)) c.archives.max_entries = *n;
    }
    if (std::optional<Field> v = m->get("max_ratio")) {
      if (auto n = v->unsigned_integer(1, kMaxArchiveRatio)) c.archives.max_ratio = *n;
    }
    if (std::optional<Field> v = m->get("max_expanded")) {
      if (auto n = v->size(1, kMaxObjectSize)) c.archives.max_expanded = *n;
    }
  }

  std::vector<std::string> read_list_refs(const Field& f) {
    std::vector<std::string> out;
    std::optional<std::vector<Field>> items = f.sequence();
    if (!items) return out;
    for (const Field& item : *items) {
      std::optional<std::string> name = item.string();
      if (!name) continue;
      if (std::find(declared_lists_.begin(), declared_lists_.end(), *name) == declared_lists_.end()) {
        item.error("undefined keyword list \"" + *name + "\"", "defined lists: " + join_names(declared_lists_));
        continue;
      }
      if (std::find(out.begin(), out.end(), *name) != out.end()) {
        item.error("list \"" + *name + "\" is named twice");
        continue;
      }
      out.push_back(*name);
    }
    return out;
  }

  // `approval: required | none`, or `approval: { required: true|false,
  // reviewers: N }` where N different security officers must each approve
  // (two-person rule for the most sensitive releases).
  void read_approval(const Field& f, Channel& c) {
    if (!f.is_mapping()) {
      if (auto v = f.choice<Approval>(kApprovalNames)) {
        c.approval = *v;
        c.reviewers = *v == Approval::required ? 1 : 0;
      }
      return;
    }
    std::optional<Mapping> m = f.mapping(kApprovalKeys);
    if (!m) return;
    std::optional<bool> required;
    if (std::optional<Field> r = m->require("required")) required = r->boolean();
    if (!required) return;
    c.approval = *required ? Approval::required : Approval::none;
    c.reviewers = *required ? 1 : 0;
    if (std::optional<Field> n = m->get("reviewers")) {
      std::optional<std::uint64_t> v = n->unsigned_integer(1, kMaxReviewers);
      if (!v) return;
      if (!*required) {
        n->error("reviewers without approval", "reviewers counts the officers who approve; set required: true");
        return;
      }
      c.reviewers = static_cast<unsigned>(*v);
    }
  }

  std::optional<PiiRule> read_pii(const Field& f) {
    std::optional<Mapping> m = f.mapping(kPiiKeys);
    if (!m) return std::nullopt;
    PiiRule rule;
    if (std::optional<Field> d = m->require("detect")) {
      if (auto v = d->choice_list<PiiKind>(kPiiKindNames)) {
        if (v->empty()) d->error("detect names no kind of personal data", "known kinds: " + yaml::names_of<PiiKind>(kPiiKindNames));
        rule.detect = std::move(*v);
      }
    }
    if (std::optional<Field> a = m->require("action")) {
      if (auto v = a->choice<PiiAction>(kPiiActionNames)) rule.action = *v;
    }
    return rule;
  }

  std::vector<Route> read_routes(const Field& f) {
    std::vector<Route> out;
    std::optional<std::vector<Field>> items = f.sequence();
    if (!items) return out;
    if (items->empty()) {
      f.error("a request channel needs at least one route", "e.g. - { method: GET, path: \"/api/v1/notices\" }");
      return out;
    }
    for (const Field& item : *items) {
      std::optional<Mapping> m = item.mapping(kRouteKeys);
      if (!m) continue;
      Route r;
      bool ok = true;
      if (std::optional<Field> v = m->require("method")) {
        if (auto method = v->choice<HttpMethod>(kHttpMethodNames)) {
          r.method = *method;
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
      if (std::optional<Field> v = m->require("path")) {
        if (std::optional<std::string> p = v->string()) {
          if (std::optional<std::string> why = route_path_problem(*p)) {
            v->error(*why, "e.g. /api/v1/docs/{id}");
            ok = false;
          } else {
            r.path = *p;
          }
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
      if (std::optional<Field> v = m->get("content_type")) {
        if (std::optional<std::string> t = v->string(); t && valid_media_type(*t)) {
          r.content_type = *t;
        } else {
          if (t) v->error("malformed media type \"" + *t + "\"", "e.g. application/json");
          ok = false;
        }
      }
      if (!ok) continue;
      for (const Route& other : out) {
        if (other.method == r.method && other.path == r.path) {
          item.error("duplicate route " + std::string(to_string(r.method)) + " " + r.path);
          ok = false;
        }
      }
      if (ok) out.push_back(std::move(r));
    }
    return out;
  }

  std::optional<ResponseRules> read_response(const Field& f) {
    std::optional<Mapping> m = f.mapping(kResponseKeys);
    if (!m) return std::nullopt;
    ResponseRules r;
    if (std::optional<Field> v = m->require("allow_types")) {
      if (auto types = v->choice_list<FileType>(kFileTypeNames)) r.allow_types = std::move(*types);
    }
    if (std::optional<Field> v = m->get("deny_keywords")) r.deny_keywords = read_list_refs(*v);
    if (std::optional<Field> v = m->get("pii")) r.pii = read_pii(*v);
    return r;
  }

  std::string_view text_;
  Diagnostics diag_;
  std::string base_dir_;
  Policy policy_;
  std::vector<std::string> declared_lists_;
  std::vector<std::pair<std::string, int>> seen_channels_;  // name, line
};

}  // namespace

PolicyLoad load_policy_text(std::string_view text, const std::string& display_name, const std::string& base_dir) {
  return PolicyReader(text, display_name, base_dir).run();
}

PolicyLoad load_policy_file(const std::string& path) {
  crypto::Result<std::string> text = detail::read_regular_file(path, kMaxPolicyFileSize);
  if (!text.ok()) {
    PolicyLoad out;
    out.errors.push_back(Diagnostic{path, 0, 0, "", "cannot read the policy: " + text.error().message, ""});
    return out;
  }
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::filesystem::path abs = std::filesystem::absolute(dir.empty() ? "." : dir, ec);
  PolicyLoad out = load_policy_text(*text, path, (ec ? dir : abs).lexically_normal().string());
  out.text = std::move(text).value();
  return out;
}

}  // namespace ferry::policy

// ferryctl policy lint / sign / diff: the security officer's checks on a
// policy before it is deployed. Lint loads the policy as a side would (strictly,
// every problem reported) and, with --signers, checks FILE.sig; sign refuses
// a policy that does not lint and signs the exact bytes it linted, with the
// same SM2/SM3 signature and distinguishing ID as `ferryctl sign`; diff
// shows what a new policy changes, by list, channel and rule.
#include <algorithm>
#include <cstdio>
#include <variant>

#include "crypto/device.h"
#include "crypto/selftest.h"
#include "crypto/sm3.h"
#include "ferry/ctl/cli.h"
#include "ferry/fs/durable_file.h"
#include "policy/policy.h"
#include "policy/signature.h"
#include "policy/size.h"

namespace ferry::ctl {

namespace {

constexpr char kPolicyHelp[] =
    "usage: ferryctl policy lint [--id ID] FILE [--signers PUB...]\n"
    "       ferryctl policy sign --key KEY [--id ID] FILE\n"
    "       ferryctl policy diff OLD NEW\n"
    "\n"
    "lint  loads FILE as ferry-policy/1, strictly. Every problem is printed to\n"
    "      stderr as FILE:LINE:COL: KEY: MESSAGE and the exit status is 2; a\n"
    "      valid policy prints its serial and one line per channel (exit 0).\n"
    "      With --signers, FILE.sig must also be an SM2 signature over the\n"
    "      exact bytes of FILE by one of the public keys PUB... (PEM).\n"
    "sign  refuses (exit 2) a policy that does not lint; otherwise writes\n"
    "      FILE.sig, the DER SM2 signature by the private key in KEY, as\n"
    "      `ferryctl sign` does, and prints the signer's key fingerprint.\n"
    "diff  loads OLD and NEW as lint does (either invalid: its problems, exit 2)\n"
    "      and prints one line per change, by list and channel, in the policy's\n"
    "      terms (`release-out: max_size 20MiB -> 50MiB`). A line that starts\n"
    "      with \"! \" WIDENS what may cross: a channel added, a type or route\n"
    "      allowed, a limit raised, antivirus, sanitize, keywords, pii, approval\n"
    "      or response rules weakened or removed. Exit 0 with `no changes` when\n"
    "      both say the same (order, comments and layout aside), 1 otherwise.\n"
    "ID is the signer's distinguishing ID (default 1234567812345678).\n";

void print_diagnostics(const std::vector<policy::Diagnostic>& errors) {
  for (const policy::Diagnostic& d : errors) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

// The policy loaded by the side's own loader, and the bytes it parsed: what
// is signed or verified is exactly what was linted.
struct LintedPolicy {
  policy::Policy policy;
  crypto::Bytes bytes;
};

// Prints the diagnostics and returns kExitUsage on failure.
std::variant<LintedPolicy, int> lint(std::string_view command, const std::string& file) {
  policy::PolicyLoad load = policy::load_policy_file(file);
  if (!load.ok()) {
    // An unreadable file has one diagnostic without a place: a usage error.
    if (load.errors.size() == 1 && load.errors[0].line == 0) {
      return usage_error(command, load.errors[0].to_string());
    }
    print_diagnostics(load.errors);
    std::fprintf(stderr, "ferryctl %.*s: %s: %zu error%s; not a valid policy%s\n", static_cast<int>(command.size()),
                 command.data(), file.c_str(), load.errors.size(), load.errors.size() == 1 ? "" : "s",
                 command == "policy sign" ? ", not signed" : "");
    return kExitUsage;
  }
  const crypto::ByteView bytes = crypto::as_bytes(load.text);
  return LintedPolicy{std::move(*load.policy), crypto::Bytes(bytes.begin(), bytes.end())};
}

template <typename T>
std::string join(const std::vector<T>& values) {
  std::string out;
  for (const T& v : values) out += (out.empty() ? "" : ",") + std::string(policy::to_string(v));
  return out;
}

std::string join(const std::vector<std::string>& values, std::string_view sep = ",") {
  std::string out;
  for (const std::string& v : values) out += (out.empty() ? "" : std::string(sep)) + v;
  return out;
}

std::string describe_pii(const policy::PiiRule& pii) {
  return join(pii.detect) + "->" + std::string(policy::to_string(pii.action));
}

std::string describe_channel(const policy::Channel& c) {
  using policy::format_size;
  std::string out = "  " + c.name + ": " + std::string(policy::to_string(c.direction)) + " " +
                    std::string(policy::to_string(c.kind)) + ", max_size " + format_size(c.max_size);
  if (!c.allow_types.empty()) out += ", allow_types " + std::to_string(c.allow_types.size());
  if (c.archives_given) {
    out += ", archives depth " + std::to_string(c.archives.max_depth) + "/entries " +
           std::to_string(c.archives.max_entries) + "/ratio " + std::to_string(c.archives.max_ratio) +
           "/expanded " + format_size(c.archives.max_expanded);
  }
  if (c.kind != policy::ChannelKind::request) {
    out += ", antivirus " + std::string(policy::to_string(c.antivirus));
    if (!c.sanitize.empty()) out += ", sanitize " + join(c.sanitize);
  }
  if (!c.deny_keywords.empty()) out += ", deny_keywords " + join(c.deny_keywords);
  if (c.pii) out += ", pii " + describe_pii(*c.pii);
  if (c.kind != policy::ChannelKind::request) {
    out += ", approval " + std::string(policy::to_string(c.approval));
    if (c.reviewers > 1) out += " (" + std::to_string(c.reviewers) + " reviewers)";
  }
  if (!c.routes.empty()) out += ", routes " + std::to_string(c.routes.size());
  if (c.response) {
    out += ", response allow_types " + std::to_string(c.response->allow_types.size());
    if (!c.response->deny_keywords.empty()) out += " deny_keywords " + join(c.response->deny_keywords);
    if (c.response->pii) out += " pii " + describe_pii(*c.response->pii);
  }
  return out;
}

void print_summary(const std::string& file, const policy::Policy& p) {
  std::printf("%s: valid ferry-policy/1, serial %llu, %zu channel%s, %zu list%s\n", file.c_str(),
              static_cast<unsigned long long>(p.serial), p.channels.size(), p.channels.size() == 1 ? "" : "s",
              p.lists.size(), p.lists.size() == 1 ? "" : "s");
  std::printf("sm3 %s\n", crypto::to_hex(p.sm3).c_str());
  for (const policy::TermList& l : p.lists) {
    const std::string from = l.file ? " from " + l.file->path : "";
    std::printf("  list %s: %zu term%s%s\n", l.name.c_str(), l.terms.size(), l.terms.size() == 1 ? "" : "s",
                from.c_str());
  }
  for (const policy::Channel& c : p.channels) std::printf("%s\n", describe_channel(c).c_str());
}

// `policy diff`: the changes between two policies in the officer's terms, one
// line per change. A change that lets more cross the boundary than before
// ("widens") starts with kWidens so that it cannot be missed in a review.
constexpr std::string_view kWidens = "! ";

struct PolicyChange {
  std::string text;
  bool widens = false;
};

std::string name_of(const std::string& s) { return s; }
template <typename T>
std::string name_of(const T& v) {
  return std::string(policy::to_string(v));
}

// Order-free: allow_types, sanitize, deny_keywords and pii.detect are sets.
struct SetChange {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  bool empty() const { return added.empty() && removed.empty(); }
};

template <typename T>
SetChange set_change(const std::vector<T>& before, const std::vector<T>& after) {
  auto contains = [](const std::vector<T>& v, const T& x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  SetChange c;
  for (const T& x : after) {
    if (!contains(before, x) && std::find(c.added.begin(), c.added.end(), name_of(x)) == c.added.end()) {
      c.added.push_back(name_of(x));
    }
  }
  for (const T& x : before) {
    if (!contains(after, x) && std::find(c.removed.begin(), c.removed.end(), name_of(x)) == c.removed.end()) {
      c.removed.push_back(name_of(x));
    }
  }
  return c;
}

std::string plus_minus(const SetChange& c) {
  std::string out;
  for (const std::string& a : c.added) out += " +" + a;
  for (const std::string& r : c.removed) out += " -" + r;
  return out;
}

// Terms are the officer's bytes; shown quoted, with control characters escaped
// so that a term cannot forge a line of the report.
std::string quote_term(std::string_view term) {
  std::string out = "\"";
  for (const char ch : term) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b == 0x7f || ch == '"' || ch == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", b);
      out += hex;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

constexpr std::size_t kTermsShown = 3;

std::string counted_terms(char sign, const std::vector<std::string>& terms) {
  std::string out = std::string(1, sign) + std::to_string(terms.size()) + (terms.size() == 1 ? " term (" : " terms (");
  for (std::size_t i = 0; i < terms.size() && i < kTermsShown; ++i) out += (i == 0 ? "" : ", ") + quote_term(terms[i]);
  return out + (terms.size() > kTermsShown ? ", ...)" : ")");
}

int antivirus_strength(policy::Antivirus a) {
  switch (a) {
    case policy::Antivirus::required: return 2;
    case policy::Antivirus::optional: return 1;
    case policy::Antivirus::off: return 0;
  }
  return 0;
}

std::string describe_route(const policy::Route& r) {
  std::string out = std::string(policy::to_string(r.method)) + " " + r.path;
  if (r.content_type) out += " (" + *r.content_type + ")";
  return out;
}

bool same_route(const policy::Route& a, const policy::Route& b) {
  return a.method == b.method && a.path == b.path && a.content_type == b.content_type;
}

class PolicyDiff {
 public:
  std::vector<PolicyChange> changes;

  void add(std::string text, bool widens) { changes.push_back({std::move(text), widens}); }

  void top_level(const policy::Policy& before, const policy::Policy& after) {
    if (before.serial != after.serial) {
      add("serial " + std::to_string(before.serial) + " -> " + std::to_string(after.serial) +
              (after.serial < before.serial ? " (lower: a side that applied the old one refuses it)" : ""),
          false);
    }
    if (before.description != after.description) add("description changed", false);
  }

  // Lists are compared by their terms, the thing enforced; whether they are
  // written inline or read from a file is not an effect.
  void lists(const policy::Policy& before, const policy::Policy& after) {
    for (const policy::TermList& l : after.lists) {
      const policy::TermList* old = before.find_list(l.name);
      if (old == nullptr) {
        add("list " + l.name + ": added, " + counted_terms('+', l.terms).substr(1), false);
        continue;
      }
      const SetChange c = set_change(old->terms, l.terms);
      if (c.empty()) continue;
      std::string text = "list " + l.name + ":";
      if (!c.added.empty()) text += " " + counted_terms('+', c.added);
      if (!c.removed.empty()) text += " " + counted_terms('-', c.removed);
      add(text, !c.removed.empty());
    }
    for (const policy::TermList& l : before.lists) {
      if (after.find_list(l.name) == nullptr) {
        add("list " + l.name + ": removed, " + counted_terms('-', l.terms).substr(1), !l.terms.empty());
      }
    }
  }

  void channels(const policy::Policy& before, const policy::Policy& after) {
    for (const policy::Channel& c : after.channels) {
      const policy::Channel* old = before.find(c.name);
      if (old == nullptr) {
        // describe_channel starts "  NAME: "; the rest says what it lets through.
        add("channel " + c.name + ": added (" + describe_channel(c).substr(4 + c.name.size()) + ")", true);
      } else {
        channel(*old, c);
      }
    }
    for (const policy::Channel& c : before.channels) {
      if (after.find(c.name) == nullptr) add("channel " + c.name + ": removed", false);
    }
  }

 private:
  // Every field of policy::Channel but `position` (where it is written).
  void channel(const policy::Channel& o, const policy::Channel& n) {
    const std::string at = n.name + ": ";
    if (o.direction != n.direction) {
      add(at + "direction " + name_of(o.direction) + " -> " + name_of(n.direction), true);
    }
    if (o.kind != n.kind) add(at + "kind " + name_of(o.kind) + " -> " + name_of(n.kind), true);
    types(at + "allow_types", o.allow_types, n.allow_types);
    if (o.max_size != n.max_size) {
      add(at + "max_size " + policy::format_size(o.max_size) + " -> " + policy::format_size(n.max_size),
          n.max_size > o.max_size);
    }
    limit(at + "archives.max_depth", o.archives.max_depth, n.archives.max_depth, false);
    limit(at + "archives.max_entries", o.archives.max_entries, n.archives.max_entries, false);
    limit(at + "archives.max_ratio", o.archives.max_ratio, n.archives.max_ratio, false);
    limit(at + "archives.max_expanded", o.archives.max_expanded, n.archives.max_expanded, true);
    if (o.antivirus != n.antivirus) {
      add(at + "antivirus " + name_of(o.antivirus) + " -> " + name_of(n.antivirus),
          antivirus_strength(n.antivirus) < antivirus_strength(o.antivirus));
    }
    if (const SetChange s = set_change(o.sanitize, n.sanitize); !s.empty()) {
      add(at + "sanitize" + plus_minus(s), !s.removed.empty());
    }
    if (const SetChange k = set_change(o.deny_keywords, n.deny_keywords); !k.empty()) {
      add(at + "deny_keywords" + plus_minus(k), !k.removed.empty());
    }
    pii(at + "pii", o.pii, n.pii);
    if (o.approval != n.approval) {
      add(at + "approval " + name_of(o.approval) + " -> " + name_of(n.approval),
          n.approval == policy::Approval::none);
    } else if (o.reviewers != n.reviewers) {
      // Fewer officers per release is a loosening.
      add(at + "approval reviewers " + std::to_string(o.reviewers) + " -> " + std::to_string(n.reviewers),
          n.reviewers < o.reviewers);
    }
    for (const policy::Route& r : n.routes) {
      auto same = [&r](const policy::Route& x) { return same_route(x, r); };
      if (std::none_of(o.routes.begin(), o.routes.end(), same)) add(at + "route +" + describe_route(r), true);
    }
    for (const policy::Route& r : o.routes) {
      auto same = [&r](const policy::Route& x) { return same_route(x, r); };
      if (std::none_of(n.routes.begin(), n.routes.end(), same)) add(at + "route -" + describe_route(r), false);
    }
    if (o.response && !n.response) add(at + "response rules removed", true);
    if (!o.response && n.response) add(at + "response rules added", false);
    if (o.response && n.response) {
      types(at + "response.allow_types", o.response->allow_types, n.response->allow_types);
      if (const SetChange k = set_change(o.response->deny_keywords, n.response->deny_keywords); !k.empty()) {
        add(at + "response.deny_keywords" + plus_minus(k), !k.removed.empty());
      }
      pii(at + "response.pii", o.response->pii, n.response->pii);
    }
  }

  // An empty allow_types on a request channel leaves the body type to the
  // routes: emptying the list is reported as widening.
  void types(const std::string& what, const std::vector<policy::FileType>& o, const std::vector<policy::FileType>& n) {
    const SetChange t = set_change(o, n);
    if (t.empty()) return;
    add(what + plus_minus(t), !t.added.empty() || (n.empty() && !o.empty()));
  }

  void limit(const std::string& what, std::uint64_t o, std::uint64_t n, bool size) {
    if (o == n) return;
    auto show = [size](std::uint64_t v) { return size ? policy::format_size(v) : std::to_string(v); };
    add(what + " " + show(o) + " -> " + show(n), n > o);
  }

  void pii(const std::string& what, const std::optional<policy::PiiRule>& o, const std::optional<policy::PiiRule>& n) {
    if (o && !n) add(what + " removed (was " + describe_pii(*o) + ")", true);
    if (!o && n) add(what + " added (" + describe_pii(*n) + ")", false);
    if (!o || !n) return;
    if (o->action != n->action) {
      add(what + ".action " + name_of(o->action) + " -> " + name_of(n->action),
          n->action == policy::PiiAction::mask);
    }
    if (const SetChange d = set_change(o->detect, n->detect); !d.empty()) {
      add(what + ".detect" + plus_minus(d), !d.removed.empty());
    }
  }
};

int run_diff(std::span<char* const> args) {
  constexpr std::string_view kCmd = "policy diff";
  crypto::Result<ParsedArgs> parsed = parse_options(args, {});
  if (!parsed.ok()) return usage_error(kCmd, parsed.error().message);
  if (parsed->help) {
    std::fputs(kPolicyHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 2) return usage_error(kCmd, "two policy files OLD NEW are required");
  // Both are loaded before either is judged, so that every problem of both
  // is printed in one run.
  std::variant<LintedPolicy, int> before = lint(kCmd, parsed->positional[0]);
  std::variant<LintedPolicy, int> after = lint(kCmd, parsed->positional[1]);
  if (const int* rc = std::get_if<int>(&before)) return *rc;
  if (const int* rc = std::get_if<int>(&after)) return *rc;
  const policy::Policy& o = std::get<LintedPolicy>(before).policy;
  const policy::Policy& n = std::get<LintedPolicy>(after).policy;

  PolicyDiff diff;
  diff.top_level(o, n);
  diff.lists(o, n);
  diff.channels(o, n);
  if (diff.changes.empty()) {
    std::printf("no changes\n");
    return kExitOk;
  }
  std::size_t widening = 0;
  for (const PolicyChange& c : diff.changes) {
    std::printf("%s%s\n", c.widens ? std::string(kWidens).c_str() : "", c.text.c_str());
    widening += c.widens ? 1 : 0;
  }
  std::printf("%zu change%s, %zu widen%s what may cross (marked \"%s\")\n", diff.changes.size(),
              diff.changes.size() == 1 ? "" : "s", widening, widening == 1 ? "s" : "",
              std::string(kWidens.substr(0, 1)).c_str());
  return kExitNegative;
}

// e = SM3(Z || bytes) through the device's hash, as `ferryctl sign` computes it.
crypto::Result<crypto::Sm3Digest> hash_bytes(crypto::CryptoSession& session, const crypto::Sm2PublicKey& signer,
                                             const std::string& id, crypto::ByteView bytes) {
  crypto::Result<std::unique_ptr<crypto::DeviceHash>> h = session.hash_init(&signer, id);
  if (!h.ok()) return h.error();
  (*h)->update(bytes);
  return (*h)->finish();
}

int run_lint(std::span<char* const> args) {
  constexpr std::string_view kCmd = "policy lint";
  // --signers takes every argument after it up to the next option, so it is
  // taken out before the common parser sees the rest.
  std::vector<char*> rest;
  std::vector<std::string> signers;
  bool check_signature = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (std::string_view(args[i]) != "--signers") {
      rest.push_back(args[i]);
      continue;
    }
    if (check_signature) return usage_error(kCmd, "option '--signers' given twice");
    check_signature = true;
    while (i + 1 < args.size() && !std::string_view(args[i + 1]).starts_with("-")) signers.emplace_back(args[++i]);
    if (signers.empty()) return usage_error(kCmd, "--signers needs at least one public key PUB");
  }
  static constexpr OptionSpec kSpecs[] = {{"id", true}};
  crypto::Result<ParsedArgs> parsed = parse_options(rest, kSpecs);
  if (!parsed.ok()) return usage_error(kCmd, parsed.error().message);
  if (parsed->help) {
    std::fputs(kPolicyHelp, stdout);
    return kExitOk;
  }
  crypto::Result<std::string> id = distinguishing_id(*parsed);
  if (!id.ok()) return usage_error(kCmd, id.error().message);
  if (parsed->positional.empty()) return usage_error(kCmd, "a policy FILE is required");
  if (parsed->positional.size() > 1) {
    return usage_error(kCmd, "unexpected argument '" + parsed->positional[1] +
                                 "' (one policy FILE; keys go after --signers)");
  }
  const std::string file = parsed->positional[0];

  std::vector<policy::Signer> keys;
  for (const std::string& s : signers) {
    crypto::Result<crypto::Sm2PublicKey> key = load_public_key(s);
    if (!key.ok()) return usage_error(kCmd, key.error().message);
    keys.push_back({s, std::move(key).value()});
  }

  std::variant<LintedPolicy, int> linted = lint(kCmd, file);
  if (const int* rc = std::get_if<int>(&linted)) return *rc;
  const LintedPolicy& lp = std::get<LintedPolicy>(linted);

  if (check_signature) {
    crypto::require_power_on_selftests();
    const policy::SignatureCheck check = policy::check_signature(file, lp.bytes, keys, *id);
    if (!check.ok()) return usage_error(kCmd, check.message);
    const policy::Signer& by = keys[*check.signer];
    print_summary(file, lp.policy);
    std::printf("signature %s: valid, by %s (SM3 fingerprint %s)\n", policy::signature_path(file).c_str(),
                by.name.c_str(), policy::fingerprint(by.key).c_str());
    return kExitOk;
  }
  print_summary(file, lp.policy);
  return kExitOk;
}

int run_sign(std::span<char* const> args) {
  constexpr std::string_view kCmd = "policy sign";
  static constexpr OptionSpec kSpecs[] = {{"key", true}, {"id", true}};
  crypto::Result<ParsedArgs> parsed = parse_options(args, kSpecs);
  if (!parsed.ok()) return usage_error(kCmd, parsed.error().message);
  if (parsed->help) {
    std::fputs(kPolicyHelp, stdout);
    return kExitOk;
  }
  std::optional<std::string> key_path = parsed->get("key");
  if (!key_path) return usage_error(kCmd, "--key KEY is required");
  if (parsed->positional.size() != 1) return usage_error(kCmd, "exactly one policy FILE is required");
  crypto::Result<std::string> id = distinguishing_id(*parsed);
  if (!id.ok()) return usage_error(kCmd, id.error().message);
  const std::string& file = parsed->positional[0];

  crypto::require_power_on_selftests();
  crypto::Result<crypto::Sm2PrivateKey> key = load_private_key(*key_path);
  if (!key.ok()) return usage_error(kCmd, key.error().message);

  std::variant<LintedPolicy, int> linted = lint(kCmd, file);
  if (const int* rc = std::get_if<int>(&linted)) return *rc;
  const LintedPolicy& lp = std::get<LintedPolicy>(linted);

  crypto::SoftwareCryptoDevice device;
  if (crypto::Status s = device.install_key(kCliSigningKey, std::move(key).value()); !s.ok()) {
    return usage_error(kCmd, s.error().message);
  }
  crypto::Result<std::unique_ptr<crypto::CryptoSession>> session = device.open_session();
  if (!session.ok()) return usage_error(kCmd, session.error().message);
  crypto::Result<crypto::Sm2PublicKey> pub = (*session)->export_sign_public_key(kCliSigningKey);
  if (!pub.ok()) return usage_error(kCmd, pub.error().message);
  crypto::Result<crypto::Sm3Digest> e = hash_bytes(**session, *pub, *id, lp.bytes);
  if (!e.ok()) return usage_error(kCmd, e.error().message);
  crypto::Result<crypto::Bytes> sig = (*session)->internal_sign(kCliSigningKey, *e);
  if (!sig.ok()) return usage_error(kCmd, sig.error().message);

  const std::string sig_path = policy::signature_path(file);
  if (crypto::Status s = fs::replace_file(sig_path, *sig, 0644); !s.ok()) return usage_error(kCmd, s.error().message);
  std::printf("wrote %s (policy serial %llu, sm3 %s)\n", sig_path.c_str(),
              static_cast<unsigned long long>(lp.policy.serial), crypto::to_hex(lp.policy.sm3).c_str());
  std::printf("signer public key SM3 fingerprint: %s\n", policy::fingerprint(*pub).c_str());
  return kExitOk;
}

}  // namespace

int cmd_policy(std::span<char* const> args) {
  if (args.empty()) {
    return usage_error("policy", "a subcommand is required: lint, sign or diff (see 'ferryctl policy --help')");
  }
  std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") {
    std::fputs(kPolicyHelp, stdout);
    return kExitOk;
  }
  if (sub == "lint") return run_lint(args.subspan(1));
  if (sub == "sign") return run_sign(args.subspan(1));
  if (sub == "diff") return run_diff(args.subspan(1));
  return usage_error("policy", "unknown subcommand '" + std::string(sub) + "' (lint, sign or diff)");
}

}  // namespace ferry::ctl

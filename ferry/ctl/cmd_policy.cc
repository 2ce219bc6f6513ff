// ferryctl policy lint / sign: the security officer's checks on a policy
// before it is deployed. Lint loads the policy as a side would (strictly,
// every problem reported) and, with --signers, checks FILE.sig; sign refuses
// a policy that does not lint and signs the exact bytes it linted, with the
// same SM2/SM3 signature and distinguishing ID as `ferryctl sign`.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <variant>

#include "crypto/device.h"
#include "crypto/selftest.h"
#include "crypto/sm3.h"
#include "ferry/ctl/cli.h"
#include "ferry/fs/durable_file.h"
#include "policy/policy.h"
#include "policy/size.h"

namespace ferry::ctl {

namespace {

constexpr char kPolicyHelp[] =
    "usage: ferryctl policy lint [--id ID] FILE [--signers PUB...]\n"
    "       ferryctl policy sign --key KEY [--id ID] FILE\n"
    "\n"
    "lint  loads FILE as ferry-policy/1, strictly. Every problem is printed to\n"
    "      stderr as FILE:LINE:COL: KEY: MESSAGE and the exit status is 2; a\n"
    "      valid policy prints its serial and one line per channel (exit 0).\n"
    "      With --signers, FILE.sig must also be an SM2 signature over the\n"
    "      exact bytes of FILE by one of the public keys PUB... (PEM).\n"
    "sign  refuses (exit 2) a policy that does not lint; otherwise writes\n"
    "      FILE.sig, the DER SM2 signature by the private key in KEY, as\n"
    "      `ferryctl sign` does, and prints the signer's key fingerprint.\n"
    "ID is the signer's distinguishing ID (default 1234567812345678).\n";

// A DER SM2 signature is at most 72 bytes; anything much larger is not one.
constexpr std::size_t kMaxSignatureFile = 4096;

void print_diagnostics(const std::vector<policy::Diagnostic>& errors) {
  for (const policy::Diagnostic& d : errors) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

// The policy loaded by the side's own loader, and the bytes that were loaded
// (read again and matched against the loader's SM3, so that what is signed or
// verified is exactly what was linted).
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
  crypto::Result<crypto::Bytes> bytes = fs::read_file(file, policy::kMaxPolicyFileSize);
  if (!bytes.ok()) return usage_error(command, bytes.error().message);
  if (crypto::Sm3::digest(*bytes) != load.policy->sm3) {
    return usage_error(command, file + ": changed while it was being read; try again");
  }
  return LintedPolicy{std::move(*load.policy), std::move(bytes).value()};
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
  if (c.kind != policy::ChannelKind::request) out += ", approval " + std::string(policy::to_string(c.approval));
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

std::string fingerprint(const crypto::Sm2PublicKey& key) { return crypto::to_hex(crypto::Sm3::digest(key.point())); }

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

  std::vector<crypto::Sm2PublicKey> keys;
  for (const std::string& s : signers) {
    crypto::Result<crypto::Sm2PublicKey> key = load_public_key(s);
    if (!key.ok()) return usage_error(kCmd, key.error().message);
    keys.push_back(std::move(key).value());
  }

  std::variant<LintedPolicy, int> linted = lint(kCmd, file);
  if (const int* rc = std::get_if<int>(&linted)) return *rc;
  const LintedPolicy& lp = std::get<LintedPolicy>(linted);

  if (check_signature) {
    const std::string sig_path = file + ".sig";
    struct stat st;
    if (::stat(sig_path.c_str(), &st) != 0 && errno == ENOENT) {
      return usage_error(kCmd, sig_path + ": missing signature file; " + file + " is not signed");
    }
    crypto::Result<crypto::Bytes> sig = fs::read_file(sig_path, kMaxSignatureFile);
    if (!sig.ok()) return usage_error(kCmd, "cannot read the signature: " + sig.error().message);
    if (!crypto::is_sm2_der_signature(*sig)) {
      return usage_error(kCmd, sig_path + ": malformed signature (not a DER SM2 signature); " + file +
                                   " is not validly signed");
    }
    crypto::require_power_on_selftests();
    crypto::SoftwareCryptoDevice device;
    crypto::Result<std::unique_ptr<crypto::CryptoSession>> session = device.open_session();
    if (!session.ok()) return usage_error(kCmd, session.error().message);
    const crypto::Sm2PublicKey* by = nullptr;
    std::size_t by_index = 0;
    for (std::size_t i = 0; i < keys.size() && by == nullptr; ++i) {
      crypto::Result<crypto::Sm3Digest> e = hash_bytes(**session, keys[i], *id, lp.bytes);
      if (!e.ok()) return usage_error(kCmd, e.error().message);
      if ((*session)->external_verify(keys[i], *e, *sig)) {
        by = &keys[i];
        by_index = i;
      }
    }
    if (by == nullptr) {
      return usage_error(kCmd, sig_path + ": " + file + " is not signed by any of the given keys (" +
                                   join(signers, ", ") + ", ID \"" + *id + "\")");
    }
    print_summary(file, lp.policy);
    std::printf("signature %s: valid, by %s (SM3 fingerprint %s)\n", sig_path.c_str(), signers[by_index].c_str(),
                fingerprint(*by).c_str());
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

  const std::string sig_path = file + ".sig";
  if (crypto::Status s = fs::replace_file(sig_path, *sig, 0644); !s.ok()) return usage_error(kCmd, s.error().message);
  std::printf("wrote %s (policy serial %llu, sm3 %s)\n", sig_path.c_str(),
              static_cast<unsigned long long>(lp.policy.serial), crypto::to_hex(lp.policy.sm3).c_str());
  std::printf("signer public key SM3 fingerprint: %s\n", fingerprint(*pub).c_str());
  return kExitOk;
}

}  // namespace

int cmd_policy(std::span<char* const> args) {
  if (args.empty()) {
    return usage_error("policy", "a subcommand is required: lint or sign (see 'ferryctl policy --help')");
  }
  std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") {
    std::fputs(kPolicyHelp, stdout);
    return kExitOk;
  }
  if (sub == "lint") return run_lint(args.subspan(1));
  if (sub == "sign") return run_sign(args.subspan(1));
  return usage_error("policy", "unknown subcommand '" + std::string(sub) + "' (lint or sign)");
}

}  // namespace ferry::ctl

// ferryctl audit verify: an auditor's check of a side's audit directory
// (the hash chain, the SM2-signed checkpoints and the head seal; see
// ferry/audit/verify.h for what is found and what cannot be).
#include <cstdio>
#include <optional>
#include <string>

#include "crypto/selftest.h"
#include "ferry/audit/json.h"
#include "ferry/audit/log.h"
#include "ferry/audit/verify.h"
#include "ferry/ctl/cli.h"

namespace ferry::ctl {

namespace {

constexpr char kHelp[] =
    "usage: ferryctl audit verify DIR [--pub KEY] [--json]\n"
    "\n"
    "Checks the audit log in DIR: every record's SM3 hash and its chain to the\n"
    "one before, across segment files; that removed segments were removed by\n"
    "the log (retention, overwrite_oldest) and not deleted; that the log still\n"
    "reaches the head seal written at the last sync. With --pub KEY (the side's\n"
    "public key, PEM) it also checks the SM2 signatures of the checkpoints and\n"
    "of the head seal; without it, it says that they were not checked.\n"
    "\n"
    "Prints a summary, or the first bad record (file, line, seq, what is wrong).\n"
    "--json prints the same as one JSON object.\n"
    "\n"
    "Exit 0 intact, 1 altered or incomplete, 2 usage errors and an unreadable DIR.\n"
    "Someone holding the side's private key can rewrite the whole trail; only a\n"
    "copy kept elsewhere (syslog export, a copied-off head seal) shows that.\n";

constexpr OptionSpec kOptions[] = {{"pub", true}, {"json", false}};

std::string json_report(const std::string& dir, const audit::VerifyReport& r) {
  using audit::json_string;
  std::string out = "{\"dir\":" + json_string(dir) + ",\"ok\":" + (r.ok ? "true" : "false") +
                    ",\"signatures_checked\":" + (r.signatures_checked ? "true" : "false") +
                    ",\"records\":" + std::to_string(r.records) + ",\"checkpoints\":" + std::to_string(r.checkpoints) +
                    ",\"segments\":" + std::to_string(r.segments) + ",\"first_seq\":" + std::to_string(r.first_seq) +
                    ",\"last_seq\":" + std::to_string(r.last_seq) + ",\"first_ts\":" + json_string(r.first_ts) +
                    ",\"last_ts\":" + json_string(r.last_ts) +
                    ",\"sealed_seq\":" + (r.sealed_seq ? std::to_string(*r.sealed_seq) : "null") + ",\"problem\":";
  if (r.problem) {
    out += "{\"file\":" + json_string(r.problem->file) + ",\"line\":" + std::to_string(r.problem->line) +
           ",\"seq\":" + std::to_string(r.problem->seq) + ",\"what\":" + json_string(r.problem->what) + "}";
  } else {
    out += "null";
  }
  out += ",\"notes\":[";
  for (std::size_t i = 0; i < r.notes.size(); ++i) out += (i ? "," : "") + json_string(r.notes[i]);
  return out + "]}";
}

void print_summary(const std::string& dir, const audit::VerifyReport& r, const std::optional<std::string>& fp) {
  std::printf("%s: %s\n", dir.c_str(), r.ok ? "intact" : "NOT INTACT");
  if (r.records == 0) {
    std::printf("  records     none\n");
  } else {
    std::printf("  records     %llu..%llu (%llu records, %llu checkpoints, %llu segments)\n",
                static_cast<unsigned long long>(r.first_seq), static_cast<unsigned long long>(r.last_seq),
                static_cast<unsigned long long>(r.records), static_cast<unsigned long long>(r.checkpoints),
                static_cast<unsigned long long>(r.segments));
    std::printf("  time        %s .. %s\n", r.first_ts.c_str(), r.last_ts.c_str());
  }
  if (r.sealed_seq) {
    std::printf("  head seal   seq %llu\n", static_cast<unsigned long long>(*r.sealed_seq));
  } else {
    std::printf("  head seal   none\n");
  }
  if (fp) {
    std::printf("  signatures  checked with key %s\n", fp->c_str());
  } else {
    std::printf("  signatures  NOT checked (no --pub)\n");
  }
  if (r.problem) {
    std::printf("  FIRST BAD   %s", r.problem->file.c_str());
    if (r.problem->line > 0) std::printf(" line %llu", static_cast<unsigned long long>(r.problem->line));
    if (r.problem->seq > 0) std::printf(" seq %llu", static_cast<unsigned long long>(r.problem->seq));
    std::printf(": %s\n", r.problem->what.c_str());
  }
  for (const std::string& n : r.notes) std::printf("  note        %s\n", n.c_str());
}

}  // namespace

int cmd_audit_verify(std::span<char* const> args) {
  crypto::Result<ParsedArgs> parsed = parse_options(args, kOptions);
  if (!parsed.ok()) return usage_error("audit verify", parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) return usage_error("audit verify", "exactly one DIR expected (see --help)");
  crypto::require_power_on_selftests();
  const std::string& dir = parsed->positional[0];
  std::optional<crypto::Sm2PublicKey> key;
  std::optional<std::string> fp;
  if (std::optional<std::string> pub = parsed->get("pub")) {
    crypto::Result<crypto::Sm2PublicKey> loaded = load_public_key(*pub);
    if (!loaded.ok()) return usage_error("audit verify", loaded.error().message);
    fp = audit::key_fingerprint(*loaded);
    key = std::move(loaded).value();
  }
  const audit::VerifyReport report = audit::verify_log(dir, key);
  if (!report.readable && report.records == 0) {
    return usage_error("audit verify", dir + ": " + (report.problem ? report.problem->what : "unreadable"));
  }
  if (parsed->has("json")) {
    std::printf("%s\n", json_report(dir, report).c_str());
  } else {
    print_summary(dir, report, fp);
  }
  return report.ok ? kExitOk : kExitNegative;
}

}  // namespace ferry::ctl

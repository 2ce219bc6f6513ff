// ferryctl audit report: the assessment report over whole UTC days, as a
// self-contained HTML page (or the same figures as JSON), drawn from the
// audit index and shown beside the result of verifying the chain.
#include <cstdio>
#include <optional>
#include <string>

#include "crypto/bytes.h"
#include "ferry/auditdb/index.h"
#include "ferry/auditdb/report.h"
#include "ferry/audit/verify.h"
#include "ferry/ctl/cli.h"
#include "ferry/fs/durable_file.h"

namespace ferry::ctl {
namespace {

constexpr std::string_view kCmd = "audit report";

constexpr char kHelp[] =
    "usage: ferryctl audit report DIR --from DAY --to DAY --out FILE [--json] [--pub KEY]\n"
    "\n"
    "Writes the assessment report for the UTC days DAY..DAY (both included,\n"
    "written 2026-11-27) of the audit trail in DIR to FILE: a single HTML page\n"
    "with its charts inline (no scripts, nothing fetched; opens offline and\n"
    "prints), or with --json the same figures as one JSON object.\n"
    "\n"
    "It shows objects and bytes per channel, direction and day; rejections by\n"
    "reason code and file type; officers' approvals and rejections; link\n"
    "incidents; policy changes with serials and signers; self-test results;\n"
    "and the result of verifying the records' hash chain (--pub KEY: the side's\n"
    "audit public key, to check checkpoint signatures too).\n"
    "\n"
    "FILE is replaced atomically. Exit 0 written, 1 the trail or the index\n"
    "could not be read or FILE written, 2 for usage errors.\n";

constexpr OptionSpec kOptions[] = {{"from", true}, {"to", true}, {"out", true}, {"json", false}, {"pub", true}};

}  // namespace

int cmd_audit_report(std::span<char* const> args) {
  crypto::Result<ParsedArgs> parsed = parse_options(args, kOptions);
  if (!parsed.ok()) return usage_error(kCmd, parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) return usage_error(kCmd, "one audit directory DIR is required");
  const std::string& dir = parsed->positional[0];
  const std::optional<std::string> from = parsed->get("from");
  const std::optional<std::string> to = parsed->get("to");
  const std::optional<std::string> out = parsed->get("out");
  if (!from || !to) return usage_error(kCmd, "--from DAY and --to DAY are required (2026-11-27)");
  if (!out || out->empty()) return usage_error(kCmd, "--out FILE is required");
  std::optional<crypto::Sm2PublicKey> pub;
  if (std::optional<std::string> key_path = parsed->get("pub")) {
    crypto::Result<crypto::Sm2PublicKey> key = load_public_key(*key_path);
    if (!key) return usage_error(kCmd, key.error().message);
    pub = std::move(*key);
  }

  crypto::Result<auditdb::AuditIndex> index = auditdb::AuditIndex::open(dir);
  if (!index) return usage_error(kCmd, index.error().message);
  crypto::Result<auditdb::UpdateReport> update = index->update();
  if (!update) {
    std::fprintf(stderr, "ferryctl %s: %s\n", kCmd.data(), update.error().message.c_str());
    return kExitNegative;
  }
  crypto::Result<auditdb::ReportFigures> figures = auditdb::compute_report(*index, *from, *to);
  if (!figures) {
    if (figures.error().code == crypto::Errc::invalid_argument) return usage_error(kCmd, figures.error().message);
    std::fprintf(stderr, "ferryctl %s: %s\n", kCmd.data(), figures.error().message.c_str());
    return kExitNegative;
  }

  // The report states whether the records it summarises are intact: the
  // same check as `ferryctl audit verify`, over the whole trail.
  auditdb::ChainCheck chain;
  const audit::VerifyReport v = audit::verify_log(dir, pub);
  chain.verified = v.readable;
  chain.ok = v.ok;
  chain.summary = std::string(v.ok ? "intact" : "NOT intact") + ": " + std::to_string(v.records) + " records (seq " +
                  std::to_string(v.first_seq) + " to " + std::to_string(v.last_seq) + "), " +
                  std::to_string(v.checkpoints) + " checkpoints, " +
                  (v.signatures_checked ? "signatures checked" : "signatures not checked (no --pub)");
  if (v.problem) {
    chain.first_problem = v.problem->file + ":" + std::to_string(v.problem->line) + " seq " +
                          std::to_string(v.problem->seq) + ": " + v.problem->what;
  }

  const std::string document = parsed->has("json") ? auditdb::render_json(*figures, chain)
                                                   : auditdb::render_html(*figures, chain);
  if (crypto::Status st = fs::replace_file(*out, crypto::as_bytes(document), 0640); !st) {
    std::fprintf(stderr, "ferryctl %s: %s: %s\n", kCmd.data(), out->c_str(), st.error().message.c_str());
    return kExitNegative;
  }
  std::fprintf(stderr, "ferryctl %s: %llu records, %s to %s, written to %s (chain: %s)\n", kCmd.data(),
               static_cast<unsigned long long>(figures->records), from->c_str(), to->c_str(), out->c_str(),
               chain.summary.c_str());
  return kExitOk;
}

}  // namespace ferry::ctl

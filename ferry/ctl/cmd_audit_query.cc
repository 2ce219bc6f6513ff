// ferryctl audit query: records from the audit index (ferry/auditdb), which
// is brought up to date, or rebuilt, first. The index is a cache: what an
// assessor relies on is the records, printed here as written (--json) and
// checked by `audit verify`.
#include <charconv>
#include <cstdio>
#include <string>

#include "ferry/audit/record.h"
#include "ferry/auditdb/index.h"
#include "ferry/auditdb/when.h"
#include "ferry/ctl/cli.h"

namespace ferry::ctl {
namespace {

constexpr std::string_view kCmd = "audit query";

constexpr char kHelp[] =
    "usage: ferryctl audit query DIR [--since T] [--until T] [--channel C] [--event E]\n"
    "                            [--verdict V] [--object ID] [--name TEXT] [--limit N] [--json]\n"
    "\n"
    "Prints the audit records in DIR that match every filter given, in sequence\n"
    "order, one line each; --json prints the records exactly as written (JSON\n"
    "lines). The index DIR/index.sqlite is updated first and rebuilt from the\n"
    "records when missing or stale; deleting it is always safe.\n"
    "\n"
    "  --since T     records at or after T\n"
    "  --until T     records before T; a bare day means up to the end of that day\n"
    "                T is UTC: 2026-11-27, 2026-11-27T10:00, 2026-11-27T10:00:05\n"
    "                or 2026-11-27T10:00:05.123Z\n"
    "  --channel C   exact channel name\n"
    "  --event E     exact event, or a prefix ending in '.': --event object.\n"
    "  --verdict V   exact verdict (accepted, rejected, pending, approved, ...)\n"
    "  --object ID   one object's records (32 hex digits)\n"
    "  --name TEXT   file names containing TEXT\n"
    "  --limit N     at most N records, lowest sequence numbers first\n"
    "\n"
    "Exit 0 whether or not records match (none: \"no records match\" on\n"
    "stderr), 1 when the index cannot be read or written, 2 for usage errors.\n";

constexpr OptionSpec kOptions[] = {{"since", true},   {"until", true},  {"channel", true},
                                   {"event", true},   {"verdict", true}, {"object", true},
                                   {"name", true},    {"limit", true},  {"json", false}};

// Record text for a terminal: a file name is chosen by whoever sent the
// file, and control bytes in it must not move the cursor or recolour the
// operator's screen.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out;
}

std::string readable(const auditdb::Row& row) {
  crypto::Result<audit::Record> r = audit::parse_record(row.line);
  if (!r) return "#" + std::to_string(row.seq) + " (unreadable in the index: " + r.error().message + ")";
  std::string out = r->ts + " #" + std::to_string(r->seq) + " " + printable(r->side) + " " +
                    printable(r->severity) + " " + printable(r->event);
  for (const auto& [k, v] : r->fields) {
    const bool quote = v.empty() || v.find_first_of(" \"\t") != std::string::npos;
    out += " " + printable(k) + "=" + (quote ? "\"" + printable(v) + "\"" : printable(v));
  }
  return out;
}

}  // namespace

int cmd_audit_query(std::span<char* const> args) {
  crypto::Result<ParsedArgs> parsed = parse_options(args, kOptions);
  if (!parsed.ok()) return usage_error(kCmd, parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) return usage_error(kCmd, "one audit directory DIR is required");
  const std::string& dir = parsed->positional[0];

  auditdb::Filter filter;
  if (std::optional<std::string> t = parsed->get("since")) {
    filter.since_ms = auditdb::parse_when(*t);
    if (!filter.since_ms) return usage_error(kCmd, "--since: '" + *t + "' is not a UTC time like 2026-11-27T10:00");
  }
  if (std::optional<std::string> t = parsed->get("until")) {
    filter.until_ms = auditdb::parse_when(*t);
    if (!filter.until_ms) return usage_error(kCmd, "--until: '" + *t + "' is not a UTC time like 2026-11-27T10:00");
    if (auditdb::parse_day(*t)) *filter.until_ms += auditdb::kMsPerDay;
  }
  if (filter.since_ms && filter.until_ms && *filter.until_ms <= *filter.since_ms) {
    return usage_error(kCmd, "--until is not after --since");
  }
  for (auto [name, member] : {std::pair{"channel", &filter.channel}, std::pair{"event", &filter.event},
                              std::pair{"verdict", &filter.verdict}, std::pair{"object", &filter.object},
                              std::pair{"name", &filter.name}}) {
    if (std::optional<std::string> v = parsed->get(name)) {
      if (v->empty()) return usage_error(kCmd, "--" + std::string(name) + " needs a value");
      *member = std::move(*v);
    }
  }
  if (std::optional<std::string> v = parsed->get("limit")) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n == 0) {
      return usage_error(kCmd, "--limit: '" + *v + "' is not a positive number");
    }
    filter.limit = n;
  }
  const bool json = parsed->has("json");

  crypto::Result<auditdb::AuditIndex> index = auditdb::AuditIndex::open(dir);
  if (!index) return usage_error(kCmd, index.error().message);
  crypto::Result<auditdb::UpdateReport> update = index->update();
  if (!update) {
    std::fprintf(stderr, "ferryctl %s: %s\n", kCmd.data(), update.error().message.c_str());
    return kExitNegative;
  }
  if (update->rebuilt && update->rebuild_reason != "new index") {
    std::fprintf(stderr, "ferryctl %s: index rebuilt: %s\n", kCmd.data(), printable(update->rebuild_reason).c_str());
  }
  if (update->bad_lines > 0) {
    std::fprintf(stderr, "ferryctl %s: %llu lines are not records and were skipped; run 'ferryctl audit verify %s'\n",
                 kCmd.data(), static_cast<unsigned long long>(update->bad_lines), printable(dir).c_str());
  }

  std::uint64_t matched = 0;
  crypto::Status st = index->scan(filter, [&](const auditdb::Row& row) {
    ++matched;
    const std::string line = json ? row.line : readable(row);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    return true;
  });
  if (!st) {
    std::fprintf(stderr, "ferryctl %s: %s\n", kCmd.data(), st.error().message.c_str());
    return kExitNegative;
  }
  if (matched == 0) std::fprintf(stderr, "ferryctl %s: no records match\n", kCmd.data());
  return kExitOk;
}

}  // namespace ferry::ctl

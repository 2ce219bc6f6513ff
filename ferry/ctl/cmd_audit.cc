// ferryctl audit verify|query|report: dispatch only; each lives in its own file.
#include <cstdio>
#include <string_view>

#include "ferry/ctl/cli.h"

namespace ferry::ctl {

namespace {
constexpr const char* kUsage =
    "usage: ferryctl audit verify DIR [--pub KEY]      check the hash chain, checkpoints and head seal\n"
    "       ferryctl audit query  DIR [filters] [--json] records from the index (rebuilt when missing)\n"
    "       ferryctl audit report DIR --from DAY --to DAY --out FILE.html [--json]\n"
    "'ferryctl audit SUBCOMMAND --help' describes each.\n";
}  // namespace

int cmd_audit(std::span<char* const> args) {
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string_view sub = args[0];
  const std::span<char* const> rest = args.subspan(1);
  if (sub == "verify") return cmd_audit_verify(rest);
  if (sub == "query") return cmd_audit_query(rest);
  if (sub == "report") return cmd_audit_report(rest);
  if (sub == "--help" || sub == "-h") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  return usage_error("audit", "unknown subcommand '" + std::string(sub) + "' (verify, query, report)");
}

}  // namespace ferry::ctl

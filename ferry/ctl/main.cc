// ferryctl: the operator's command line. Each subcommand lives in its own
// file; this one only dispatches.
#include <cstdio>
#include <string_view>

#include "ferry/ctl/cli.h"

namespace {

struct Entry {
  std::string_view name;
  ferry::ctl::Command run;
  std::string_view summary;
};

constexpr Entry kCommands[] = {
    {"selftest", ferry::ctl::cmd_selftest, "run the cryptographic self-tests and print the results"},
    {"keygen", ferry::ctl::cmd_keygen, "generate an SM2 key pair (PREFIX.key, PREFIX.pub)"},
    {"digest", ferry::ctl::cmd_digest, "print SM3 digests of files, like sha256sum"},
    {"sign", ferry::ctl::cmd_sign, "sign a file with an SM2 key (writes FILE.sig)"},
    {"verify", ferry::ctl::cmd_verify, "verify an SM2 signature over a file"},
    {"policy", ferry::ctl::cmd_policy, "lint a policy (every error, with line:col), check or write its signature"},
    {"inspect", ferry::ctl::cmd_inspect, "dry-run a channel's pipeline over files: verdict, type and reasons"},
    {"av", ferry::ctl::cmd_av, "install a tested antivirus signature database, or show the installed one"},
    {"status", ferry::ctl::cmd_status, "show a running side (needs --config FILE before the command)"},
    {"pending", ferry::ctl::cmd_pending, "list objects awaiting an officer's approval on a running side"},
    {"approve", ferry::ctl::cmd_approve, "approve an object for release (signed with a secadmin key)"},
    {"reject", ferry::ctl::cmd_reject, "reject an object awaiting approval (signed with a secadmin key)"},
    {"quarantine", ferry::ctl::cmd_quarantine, "list, show, release or purge quarantined objects"},
    {"audit", ferry::ctl::cmd_audit, "verify, query or report on an audit trail"},
};

void print_help(std::FILE* out) {
  std::fputs("usage: ferryctl [--config FILE] COMMAND [OPTIONS] [ARGS]\n\ncommands:\n", out);
  for (const Entry& e : kCommands) {
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(e.name.size()), e.name.data(),
                 static_cast<int>(e.summary.size()), e.summary.data());
  }
  std::fputs("\n'ferryctl COMMAND --help' describes a command.\n"
             "Exit status: 0 success, 1 a negative answer (invalid, failed), 2 usage or input error.\n",
             out);
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  if (argc >= 2 && std::string_view(argv[1]) == "--config") {
    if (argc < 3) {
      std::fputs("ferryctl: --config needs a FILE\n", stderr);
      return ferry::ctl::kExitUsage;
    }
    ferry::ctl::global_config = argv[2];
    first = 3;
  } else if (argc >= 2 && std::string_view(argv[1]).starts_with("--config=")) {
    ferry::ctl::global_config = std::string(std::string_view(argv[1]).substr(9));
    first = 2;
  }
  if (argc <= first) {
    print_help(stderr);
    return ferry::ctl::kExitUsage;
  }
  std::string_view command = argv[first];
  if (command == "--help" || command == "-h" || command == "help") {
    print_help(stdout);
    return ferry::ctl::kExitOk;
  }
  for (const Entry& e : kCommands) {
    if (e.name == command) {
      return e.run(std::span<char* const>(argv + first + 1, static_cast<std::size_t>(argc - first - 1)));
    }
  }
  std::fprintf(stderr, "ferryctl: unknown command '%s' (see 'ferryctl --help')\n", argv[first]);
  return ferry::ctl::kExitUsage;
}

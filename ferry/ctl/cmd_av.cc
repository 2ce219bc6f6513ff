// ferryctl av update / info: the antivirus signature database of a side.
// Signatures reach an air-gapped side as files (carried in through a
// channel or on media); `av update` tests them and installs them atomically
// as the config's `antivirus.database`, `av info` says what is installed and
// whether it is too old to be trusted. ferryd picks a new database up on
// SIGHUP; this command does not signal it.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <variant>

#include "ferry/antivirus/scanner.h"
#include "ferry/config/config.h"
#include "ferry/ctl/cli.h"

namespace ferry::ctl {
namespace {

constexpr char kHelp[] =
    "usage: ferryctl av update FROM (--config FILE | --database DIR)\n"
    "       ferryctl av info (--config FILE | --database DIR)\n"
    "\n"
    "update  tests the ClamAV signature files in FROM (they load, and neither a\n"
    "        plain text nor random bytes match any signature) and installs them\n"
    "        as the database: copied beside it, synced, and exchanged with the\n"
    "        old directory in one step. FROM may hold signature files only\n"
    "        (.cvd .cld .cud .hdb .ndb .ldb ...). Exit 0 installed, 1 refused\n"
    "        (the old database is kept and the reason printed).\n"
    "info    loads the database and prints its signature count, build time,\n"
    "        age and whether it is stale (older than antivirus.max_age_days,\n"
    "        default 30, when every scan is not_scanned). Exit 0 usable, 1 stale\n"
    "        or not loadable.\n"
    "\n"
    "The database is the config's `antivirus.database` (--config FILE here or\n"
    "before the command), or DIR given with --database.\n"
    "Exit 2 for usage and config errors.\n";

constexpr OptionSpec kOptions[] = {{"config", true}, {"database", true}};


std::string describe_age(std::chrono::system_clock::time_point built) {
  const auto age = std::chrono::system_clock::now() - built;
  const long long hours = std::chrono::duration_cast<std::chrono::hours>(age).count();
  if (hours < 0) return "in the future: check this host's clock";
  if (hours == 0) return "less than an hour old";
  if (hours < 48) return std::to_string(hours) + (hours == 1 ? " hour old" : " hours old");
  return std::to_string(hours / 24) + " days old";
}

// "N signatures, built DATE (AGE), version V"
std::string describe(const antivirus::DatabaseInfo& info) {
  std::string out = std::to_string(info.signatures) + (info.signatures == 1 ? " signature" : " signatures") +
                    ", built " + antivirus::format_utc(info.built) + " (" + describe_age(info.built) + ")";
  if (!info.version.empty()) out += ", version " + info.version;
  return out;
}

bool is_stale(const antivirus::DatabaseInfo& info, const antivirus::ScannerOptions& options) {
  return options.max_age.count() > 0 && std::chrono::system_clock::now() - info.built > options.max_age;
}

// The database a command works on, and the scanner options it is judged
// by: the config's antivirus.database and max_age_days, or --database DIR
// with the default age limit.
struct Target {
  std::string database;
  antivirus::ScannerOptions options;
};

// Returns the exit status on failure.
std::variant<Target, int> target_of(std::string_view command, const ParsedArgs& args) {
  std::optional<std::string> config = args.get("config");
  if (config && global_config) {
    return usage_error(command, "--config given twice (before the command and after it)");
  }
  if (!config) config = global_config;
  std::optional<std::string> database = args.get("database");
  if (database && config) return usage_error(command, "--database and --config are alternatives; give one");
  if (database) {
    if (database->empty()) return usage_error(command, "--database needs a directory");
    return Target{*database, {}};
  }
  if (!config) return usage_error(command, "--config FILE or --database DIR is required");
  config::ConfigLoad load = config::load_config_file(*config);
  if (!load.ok()) {
    std::fputs(policy::to_string(load.errors).c_str(), stderr);
    return kExitUsage;
  }
  if (!load.config->antivirus || load.config->antivirus->database.empty()) {
    return usage_error(command, *config + ": no antivirus database configured (antivirus: { database: DIR })");
  }
  Target t{load.config->antivirus->database, {}};
  t.options.max_age = std::chrono::duration_cast<std::chrono::hours>(load.config->antivirus->max_age);
  return t;
}

std::string describe_limit(const antivirus::ScannerOptions& options) {
  if (options.max_age.count() == 0) return "no age limit";
  return "limit " + std::to_string(options.max_age.count() / 24) + " days";
}

int run_update(std::span<char* const> args) {
  constexpr std::string_view kCmd = "av update";
  crypto::Result<ParsedArgs> parsed = parse_options(args, kOptions);
  if (!parsed.ok()) return usage_error(kCmd, parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    return usage_error(kCmd, "one directory FROM with the new signature files is required");
  }
  std::variant<Target, int> target = target_of(kCmd, *parsed);
  if (const int* rc = std::get_if<int>(&target)) return *rc;
  const std::string& database = std::get<Target>(target).database;
  const antivirus::ScannerOptions& options = std::get<Target>(target).options;

  crypto::Result<antivirus::DatabaseInfo> info = antivirus::install_database(parsed->positional[0], database, options);
  if (!info.ok()) {
    std::fprintf(stderr, "ferryctl av update: refused: %s\n", info.error().message.c_str());
    std::fprintf(stderr, "ferryctl av update: %s is unchanged\n", database.c_str());
    return kExitNegative;
  }
  std::printf("installed %s into %s\n", describe(*info).c_str(), info->directory.c_str());
  if (is_stale(*info, options)) {
    std::printf("warning: the new database is already stale (%s): every scan will be not_scanned\n",
                describe_limit(options).c_str());
  }
  std::printf("ferryd loads it on SIGHUP or restart\n");
  return kExitOk;
}

int run_info(std::span<char* const> args) {
  constexpr std::string_view kCmd = "av info";
  crypto::Result<ParsedArgs> parsed = parse_options(args, kOptions);
  if (!parsed.ok()) return usage_error(kCmd, parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (!parsed->positional.empty()) return usage_error(kCmd, "takes no arguments");
  std::variant<Target, int> target = target_of(kCmd, *parsed);
  if (const int* rc = std::get_if<int>(&target)) return *rc;
  const antivirus::ScannerOptions& options = std::get<Target>(target).options;

  auto scanner = antivirus::Scanner::load(std::get<Target>(target).database, options);
  if (!scanner.ok()) {
    std::fprintf(stderr, "ferryctl av info: %s\n", scanner.error().message.c_str());
    return kExitNegative;
  }
  const antivirus::DatabaseInfo& info = (*scanner)->database();
  std::printf("database:   %s\n", info.directory.c_str());
  std::printf("signatures: %u\n", info.signatures);
  if (!info.version.empty()) std::printf("version:    %s\n", info.version.c_str());
  std::printf("built:      %s (%s)\n", antivirus::format_utc(info.built).c_str(), describe_age(info.built).c_str());
  if (!(*scanner)->stale().empty()) {
    std::printf("status:     stale: %s; every scan is not_scanned\n", (*scanner)->stale().c_str());
    return kExitNegative;
  }
  std::printf("status:     fresh (%s)\n", describe_limit(options).c_str());
  return kExitOk;
}

}  // namespace

int cmd_av(std::span<char* const> args) {
  if (args.empty()) return usage_error("av", "a subcommand is required: update or info (see 'ferryctl av --help')");
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (sub == "update") return run_update(args.subspan(1));
  if (sub == "info") return run_info(args.subspan(1));
  return usage_error("av", "unknown subcommand '" + std::string(sub) + "' (update or info)");
}

}  // namespace ferry::ctl

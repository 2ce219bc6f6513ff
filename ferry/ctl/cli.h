// What every ferryctl command shares: exit codes, option parsing, and the one
// way of reporting an error (one line on stderr naming the command).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/device.h"
#include "crypto/result.h"
#include "crypto/sm2.h"

namespace ferry::ctl {

// design.md "Operator surface": 0 success, 1 a negative answer, 2 usage or
// configuration error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitNegative = 1;
inline constexpr int kExitUsage = 2;

struct OptionSpec {
  std::string_view name;  // without the leading "--"
  bool takes_value;
};

struct ParsedArgs {
  std::map<std::string, std::string, std::less<>> values;
  std::vector<std::string> positional;
  bool help = false;

  bool has(std::string_view name) const { return values.contains(name); }
  std::optional<std::string> get(std::string_view name) const;
};

// "--name value", "--name=value", "--flag", "--" ends options, "-" is a
// positional (stdin). -h/--help is always accepted. Errors name the option.
crypto::Result<ParsedArgs> parse_options(std::span<char* const> args, std::span<const OptionSpec> specs);

// Prints "ferryctl CMD: message" to stderr and returns kExitUsage.
int usage_error(std::string_view command, std::string_view message);

// Key files, with errors that say which file and what is wrong with it. A
// private key file readable by group or others is refused, as OpenSSH does.
crypto::Result<crypto::Sm2PrivateKey> load_private_key(const std::string& path);
crypto::Result<crypto::Sm2PublicKey> load_public_key(const std::string& path);

// An SM2 distinguishing ID from --id, or the GM/T 0009 default.
crypto::Result<std::string> distinguishing_id(const ParsedArgs& args);

// The device key slot the CLI installs a loaded signing key into.
inline constexpr crypto::KeyIndex kCliSigningKey{1};

// `ferryctl --config FILE COMMAND ...`: the side's config, for the commands
// that talk about a running side (status).
inline std::optional<std::string> global_config;

using Command = int (*)(std::span<char* const> args);

int cmd_selftest(std::span<char* const> args);
int cmd_keygen(std::span<char* const> args);
int cmd_digest(std::span<char* const> args);
int cmd_sign(std::span<char* const> args);
int cmd_verify(std::span<char* const> args);
int cmd_status(std::span<char* const> args);
int cmd_policy(std::span<char* const> args);
int cmd_inspect(std::span<char* const> args);
int cmd_av(std::span<char* const> args);
// audit verify|query|report (cmd_audit.cc dispatches to the three below).
int cmd_audit(std::span<char* const> args);
int cmd_audit_verify(std::span<char* const> args);  // cmd_audit_verify.cc
int cmd_audit_query(std::span<char* const> args);   // cmd_audit_query.cc
int cmd_audit_report(std::span<char* const> args);  // cmd_audit_report.cc
// Officers' requests to a running side over its control socket (cmd_control.cc).
int cmd_pending(std::span<char* const> args);
int cmd_approve(std::span<char* const> args);
int cmd_reject(std::span<char* const> args);
int cmd_quarantine(std::span<char* const> args);

}  // namespace ferry::ctl

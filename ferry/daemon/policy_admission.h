// Whether the policy file a config names may run on this side, decided the
// same way at start-up, by --check-config and on SIGHUP. The file is read
// once. When the config names security officers (officers.secadmin), the
// signature beside it must verify over exactly those bytes with one of their
// keys (三员分立: only the security officer decides what may cross); the same
// bytes are parsed strictly and the channel bindings checked against them.
// Anti-rollback (spool/applied_serial.h) is left to the caller, which owns
// the spool.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ferry/config/config.h"
#include "policy/policy.h"

namespace ferry::daemon {

// Audited when a policy is applied without a signature check.
inline constexpr std::string_view kUnsignedAccepted =
    "policy accepted unsigned: the config names no officers.secadmin keys";

struct AdmittedPolicy {
  policy::Policy policy;
  // The officer key that signed, "PATH (SM3 fingerprint HEX)"; empty when
  // the config names no officers.secadmin keys and nothing was checked.
  std::string signer;
  // The exact bytes parsed (and signed): what the sandboxed worker is given
  // to load its own copy from, never a second read of the file.
  std::string text;
};

struct PolicyAdmission {
  std::optional<AdmittedPolicy> admitted;
  // When refused: a short reason for the audit record (unreadable, unsigned,
  // bad_signature, signature_malformed, signature_unreadable, signer_key,
  // invalid) and the problems, one per line, each naming its file.
  std::string reason;
  std::string message;

  bool ok() const { return admitted.has_value(); }
};

PolicyAdmission admit_policy(const config::Config& config);

}  // namespace ferry::daemon

#include "ferry/daemon/policy_admission.h"

#include <string_view>
#include <utility>
#include <vector>

#include "policy/signature.h"

namespace ferry::daemon {

namespace {

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

PolicyAdmission refused(std::string reason, std::string message) {
  PolicyAdmission out;
  out.reason = std::move(reason);
  out.message = std::move(message);
  return out;
}

// When the signature is by another officer's key, says whose: the likely
// mistake is an officer signing outside their role (三员分立).
std::string signed_by_other_role(const config::Config& config, std::string_view policy_text) {
  const std::pair<const char*, const std::vector<std::string>*> roles[] = {
      {"officers.sysadmin", &config.officers->sysadmin}, {"officers.auditor", &config.officers->auditor}};
  for (const auto& [role, paths] : roles) {
    for (const std::string& path : *paths) {
      crypto::Result<policy::Signer> s = policy::load_signer(path);
      if (!s.ok()) continue;
      const policy::Signer one[] = {std::move(s).value()};
      if (policy::check_signature(config.policy, crypto::as_bytes(policy_text), one).ok()) {
        return " (it is signed by " + path + ", a key of " + role + ", which may not sign a policy)";
      }
    }
  }
  return "";
}

}  // namespace

PolicyAdmission admit_policy(const config::Config& config) {
  policy::PolicyLoad load = policy::load_policy_file(config.policy);
  if (!load.ok() && load.text.empty() && load.errors.size() == 1 && load.errors[0].line == 0) {
    return refused("unreadable", policy::to_string(load.errors));
  }

  std::string signer;
  const std::vector<std::string> officer_keys = config.officers ? config.officers->secadmin : std::vector<std::string>{};
  if (!officer_keys.empty()) {
    std::vector<policy::Signer> signers;
    for (const std::string& path : officer_keys) {
      crypto::Result<policy::Signer> s = policy::load_signer(path);
      if (!s.ok()) return refused("signer_key", "officers.secadmin key " + s.error().message + "\n");
      signers.push_back(std::move(s).value());
    }
    const policy::SignatureCheck check =
        policy::check_signature(config.policy, crypto::as_bytes(load.text), signers);
    if (!check.ok()) {
      std::string message = check.message;
      if (check.problem != policy::SignatureProblem::not_by_signers) {
        message += "; " + config.source + " names officers.secadmin, so the policy must be signed by one of: " +
                   join(officer_keys) + " (ferryctl policy sign --key KEY " + config.policy + ")";
      } else {
        message += "; only the officers.secadmin keys of " + config.source + " may sign the policy" +
                   signed_by_other_role(config, load.text);
      }
      // A policy that is also invalid says so too, so one round fixes both.
      return refused(std::string(policy::to_string(check.problem)), message + "\n" + policy::to_string(load.errors));
    }
    const policy::Signer& by = signers[*check.signer];
    signer = by.name + " (SM3 fingerprint " + policy::fingerprint(by.key) + ")";
  }

  std::vector<policy::Diagnostic> problems = std::move(load.errors);
  if (load.ok()) {
    std::vector<policy::Diagnostic> b = config::check_bindings(config, *load.policy);
    problems.insert(problems.end(), b.begin(), b.end());
  }
  if (!problems.empty()) return refused("invalid", policy::to_string(problems));

  PolicyAdmission out;
  out.admitted = AdmittedPolicy{std::move(*load.policy), std::move(signer), std::move(load.text)};
  return out;
}

}  // namespace ferry::daemon

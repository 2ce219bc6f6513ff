// ferryd: one side of ferry. `ferryd --config FILE` runs it;
// `ferryd --check-config FILE` validates the config, the policy it names and
// the channel bindings, and exits.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "crypto/selftest.h"
#include "ferry/config/config.h"
#include "ferry/daemon/policy_admission.h"
#include "ferry/daemon/side.h"
#include "ferry/spool/applied_serial.h"
#include "policy/policy.h"

namespace {

constexpr char kHelp[] =
    "usage: ferryd --config FILE        run one side of ferry\n"
    "       ferryd --check-config FILE  validate FILE, its policy and channel bindings, and exit\n"
    "\n"
    "When the config names officers.secadmin keys, the policy must be signed\n"
    "(POLICY.sig, `ferryctl policy sign`) by one of them; a policy whose serial\n"
    "is lower than the highest this side has applied is refused (anti-rollback).\n"
    "\n"
    "Signals: SIGHUP reloads the policy (a bad one is refused and the old one\n"
    "keeps running); SIGTERM finishes the frame in flight and stops.\n"
    "Exit status: 0 stopped cleanly or config valid, 1 a self-test failed,\n"
    "2 the configuration or policy is wrong or refused (each problem printed\n"
    "with its file, and for a document its line, column and key).\n";

struct Loaded {
  ferry::config::Config config;
  ferry::daemon::AdmittedPolicy policy;
};

// Every problem at once, one per line on stderr; nullopt if there were any.
std::optional<Loaded> load(const std::string& path) {
  ferry::config::ConfigLoad c = ferry::config::load_config_file(path);
  if (!c.ok()) {
    std::fputs(ferry::policy::to_string(c.errors).c_str(), stderr);
    return std::nullopt;
  }
  ferry::daemon::PolicyAdmission p = ferry::daemon::admit_policy(*c.config);
  if (!p.ok()) {
    std::fprintf(stderr, "ferryd: policy refused (%s):\n%s", p.reason.c_str(), p.message.c_str());
    return std::nullopt;
  }
  if (!c.config->link_transport_available()) {
    std::fprintf(stderr, "%s: link.transport: pcap is parsed but not available yet; use transport: unix\n",
                 path.c_str());
    return std::nullopt;
  }
  return Loaded{std::move(*c.config), std::move(*p.admitted)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::string mode, path;
  if (argc == 3) {
    mode = argv[1];
    path = argv[2];
  } else if (argc == 2 && (std::string_view(argv[1]).starts_with("--config=") ||
                           std::string_view(argv[1]).starts_with("--check-config="))) {
    std::string_view a = argv[1];
    mode = std::string(a.substr(0, a.find('=')));
    path = std::string(a.substr(a.find('=') + 1));
  }
  if ((mode != "--config" && mode != "--check-config") || path.empty()) {
    std::fputs(kHelp, stderr);
    return 2;
  }

  std::optional<Loaded> loaded = load(path);
  if (!loaded) return 2;
  if (mode == "--check-config") {
    const ferry::policy::Policy& policy = loaded->policy.policy;
    // Read only: the serial is recorded by the side that applies the policy.
    ferry::crypto::Result<ferry::spool::AppliedSerial> applied =
        ferry::spool::AppliedSerial::open(loaded->config.spool.dir);
    if (!applied.ok()) {
      std::fprintf(stderr, "ferryd: %s\n", applied.error().message.c_str());
      return 2;
    }
    if (ferry::crypto::Status s = applied->check(policy.serial); !s.ok()) {
      std::fprintf(stderr, "ferryd: policy refused (rollback): %s: %s\n", loaded->config.policy.c_str(),
                   s.error().message.c_str());
      return 2;
    }
    std::size_t bound = loaded->config.channels.size();
    std::printf("%s: ok: side %s, policy %s serial %llu, %zu channel binding%s\n", path.c_str(),
                std::string(ferry::config::to_string(loaded->config.side)).c_str(), loaded->config.policy.c_str(),
                static_cast<unsigned long long>(policy.serial), bound, bound == 1 ? "" : "s");
    if (loaded->policy.signer.empty()) {
      std::printf("  %s\n", std::string(ferry::daemon::kUnsignedAccepted).c_str());
    } else {
      std::printf("  policy signed by %s\n", loaded->policy.signer.c_str());
    }
    for (const std::string& line : loaded->config.inactive_features()) std::printf("  not yet active: %s\n", line.c_str());
    return 0;
  }

  ferry::crypto::require_power_on_selftests();
  boost::asio::io_context io;
  ferry::crypto::Result<std::unique_ptr<ferry::daemon::Side>> side =
      ferry::daemon::Side::create(io, std::move(loaded->config), std::move(loaded->policy));
  if (!side.ok()) {
    std::fprintf(stderr, "ferryd: %s: %s\n", path.c_str(), side.error().message.c_str());
    return 2;
  }
  return (*side)->run();
}

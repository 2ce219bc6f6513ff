// ferryctl selftest: the power-on self-tests, as a table an assessor can read.
#include <cstdio>

#include "crypto/device.h"
#include "crypto/selftest.h"
#include "ferry/audit/json.h"
#include "ferry/ctl/cli.h"

namespace ferry::ctl {

namespace {
constexpr char kHelp[] =
    "usage: ferryctl selftest [--json]\n"
    "\n"
    "Runs ferry's cryptographic self-tests (GM/T 0028 / GM/T 0124 style): a\n"
    "known-answer test of every algorithm against the national standards'\n"
    "vectors, consistency tests, and a random generator health check.\n"
    "Prints one line per test. Exit 0 when all pass, 1 when any fails.\n";

// Pads to a width in characters, not bytes: sources such as "§6.2.2" hold
// multi-byte UTF-8 that printf's %-40s would count wrong.
std::string pad(const std::string& s, std::size_t width) {
  std::size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80 ? 1 : 0;
  return chars >= width ? s + " " : s + std::string(width - chars, ' ');
}
}  // namespace

int cmd_selftest(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {{"json", false}};
  crypto::Result<ParsedArgs> parsed = parse_options(args, kSpecs);
  if (!parsed.ok()) return usage_error("selftest", parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (!parsed->positional.empty()) return usage_error("selftest", "takes no arguments");

  std::vector<crypto::SelfTestOutcome> outcomes = crypto::run_selftests(crypto::power_on_selftests());
  bool all_passed = true;
  for (const auto& o : outcomes) all_passed = all_passed && o.passed;
  crypto::SoftwareCryptoDevice device;

  if (parsed->has("json")) {
    std::printf("{\"device\":%s,\"passed\":%s,\"tests\":[", audit::json_string(device.name()).c_str(),
                all_passed ? "true" : "false");
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      const auto& o = outcomes[i];
      std::printf("%s{\"name\":%s,\"source\":%s,\"passed\":%s,\"detail\":%s}", i ? "," : "",
                  audit::json_string(o.name).c_str(), audit::json_string(o.source).c_str(), o.passed ? "true" : "false",
                  audit::json_string(o.detail).c_str());
    }
    std::printf("]}\n");
    return all_passed ? kExitOk : kExitNegative;
  }

  std::printf("crypto device: %s\n\n", device.name().c_str());
  std::printf("%s%sRESULT\n", pad("TEST", 43).c_str(), pad("SOURCE", 45).c_str());
  for (const auto& o : outcomes) {
    std::printf("%s%s%s\n", pad(o.name, 43).c_str(), pad(o.source, 45).c_str(), o.passed ? "pass" : "FAIL");
    if (!o.passed) std::printf("    %s\n", o.detail.c_str());
  }
  std::size_t failed = 0;
  for (const auto& o : outcomes) failed += o.passed ? 0 : 1;
  std::printf("\n%zu passed, %zu failed\n", outcomes.size() - failed, failed);
  return all_passed ? kExitOk : kExitNegative;
}

}  // namespace ferry::ctl

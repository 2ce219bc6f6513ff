// Hostile policies: any bytes given as a policy document give a policy or
// diagnostics, never a crash, a hang or an exception.
#include <cstdint>
#include <string_view>

#include "policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // List files resolve against a directory that does not exist, so only
  // absolute paths in the input reach the file system.
  ferry::policy::PolicyLoad r = ferry::policy::load_policy_text(text, "fuzz.yaml", "/nonexistent-ferry-fuzz");
  if (r.ok() == !r.errors.empty()) __builtin_trap();
  for (const auto& d : r.errors) (void)d.to_string();
  return 0;
}

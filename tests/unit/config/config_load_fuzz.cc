// Hostile configs: any bytes given as a config document give a config or
// diagnostics, never a crash, a hang or an exception.
#include <cstdint>
#include <string_view>

#include "ferry/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Relative paths resolve into a directory that does not exist, so the key
  // and policy checks report diagnostics instead of reading files.
  ferry::config::ConfigLoad r = ferry::config::load_config_text(text, "fuzz.yaml", "/nonexistent-ferry-fuzz");
  if (r.ok() == !r.errors.empty()) __builtin_trap();
  for (const auto& d : r.errors) (void)d.to_string();
  if (r.ok()) (void)r.config->inactive_features();
  return 0;
}

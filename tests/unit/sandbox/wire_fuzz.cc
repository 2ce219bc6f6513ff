// The worker's messages as ferryd reads them (ready, answer) and as the
// worker reads them (setup, request): hostile either way round.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ferry/sandbox/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view packet(reinterpret_cast<const char*>(data), size);
  using namespace ferry::sandbox;
  (void)peek_type(packet);
  if (auto m = decode_setup(packet); m.ok() && decode_setup(encode(*m)).value().policy_name != m->policy_name) {
    __builtin_trap();
  }
  if (auto m = decode_ready(packet); m.ok() && decode_ready(encode(*m)).value().confinement != m->confinement) {
    __builtin_trap();
  }
  if (auto m = decode_request(packet); m.ok() && decode_request(encode(*m)).value().name != m->name) __builtin_trap();
  if (auto m = decode_answer(packet); m.ok()) {
    Answer a = *m;
    if (decode_answer(encode(a)).value().reasons != a.reasons) __builtin_trap();
    fit(a);
    if (encode(a).size() > kMaxMessage) __builtin_trap();
  }
  return 0;
}

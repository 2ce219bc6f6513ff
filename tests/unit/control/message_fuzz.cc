// Control messages come from any local process that can open the socket.
// Whatever the bytes: no crash, and whatever decodes re-encodes to exactly
// the input (the codec's strictness: one spelling per message).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ferry/control/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::control;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (auto h = decode_hello(body); h.ok() && encode(*h) != body) std::abort();
  if (auto q = decode_request(body); q.ok()) {
    if (encode(*q) != body) std::abort();
    // The signed text is one line per field whatever the request holds.
    const std::string text = signed_text(*q);
    std::size_t lines = 0;
    for (char c : text) lines += c == '\n';
    if (lines != 7) std::abort();
  }
  if (auto r = decode_reply(body); r.ok() && encode(*r) != body) std::abort();
  if (auto v = percent_decode(body); v && percent_decode(percent_encode(*v)) != v) std::abort();
  return 0;
}

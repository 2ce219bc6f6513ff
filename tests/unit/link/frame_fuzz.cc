// Hostile link input: one datagram, fed to the frame codec, to every body
// decoder, and to both engines of a live link (real crypto, simulated
// clock). Nothing may crash or read out of bounds, a frame that decodes must
// re-encode to the same bytes, and no input may bring the link down: only
// sealed frames act on the link, and nobody but the two engines can seal.
//
// A HELLO whose nonce starts with an even byte gets the live fingerprints
// written in, so that mutations reach the key exchange (R_A validation).
#include <cstdlib>

#include "ferry/link/messages.h"
#include "tests/unit/link/link_harness.h"

namespace {

using namespace ferry::link;
using namespace ferry::link::test;

struct World {
  World() : pair(Pair::Options{}) {
    pair.connect();
    if (!pair.run_until([&] { return pair.both_up(); }, 5s)) std::abort();
  }
  Pair pair;
};

void decode_bodies(ByteView b) {
  (void)decode_hello(b);
  (void)decode_hello_reply(b);
  (void)decode_confirm(b);
  (void)decode_reason(b);
  (void)decode_offer(b);
  (void)decode_end(b);
  (void)decode_keepalive(b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World;  // lives for the whole run
  Pair& p = world->pair;
  Bytes input(data, data + size);

  Decoded<FrameView> f = decode_frame(input, 65536);
  if (f.ok()) {
    if (encode_frame(f->header, f->payload) != input) std::abort();
    if (f->header.type == FrameType::hello && f->payload.size() == kHelloBodySize &&
        f->payload[90] % 2 == 0) {
      const auto& keys = TestKeys::get();
      const auto outer_fp = ferry::crypto::Sm3::digest(keys.outer.public_point());
      const auto inner_fp = ferry::crypto::Sm3::digest(keys.inner.public_point());
      std::copy(outer_fp.begin(), outer_fp.end(), input.begin() + kHeaderSize + 26);
      std::copy(inner_fp.begin(), inner_fp.end(), input.begin() + kHeaderSize + 58);
    }
  }
  decode_bodies(input);
  if (input.size() > kHeaderSize) decode_bodies(ByteView(input).subspan(kHeaderSize));

  p.inner.engine->receive(input, p.now);
  p.outer.engine->receive(input, p.now);
  p.step();
  if (!p.both_up()) {
    std::fprintf(stderr, "a hostile datagram brought the link down\n");
    std::abort();
  }
  return 0;
}

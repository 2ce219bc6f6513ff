// What the sender and receiver halves need from the engine: a way to send a
// sealed frame under the current session, to report, and to count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ferry/link/engine.h"

namespace ferry::link {

// When the peer sent a frame: (session generation, sequence), compared
// lexicographically. Lets the sender tell a late answer from a current one.
struct SendOrder {
  std::uint64_t generation = 0;
  std::uint64_t sequence = 0;
  auto operator<=>(const SendOrder&) const = default;
};

class FrameOut {
 public:
  virtual ~FrameOut() = default;
  virtual void send_sealed(FrameType type, const ObjectId& object, std::uint64_t offset, ByteView body) = 0;
  virtual void emit(LinkEventKind kind, std::string text, std::optional<ObjectId> object) = 0;
  virtual LinkCounters& counters() = 0;
  // A frame that authenticated but whose body did not parse, or one that did not decode.
  void count_malformed(DecodeError error) {
    counters().dropped.malformed++;
    counters().dropped.malformed_by_reason[static_cast<std::size_t>(error)]++;
  }
};

}  // namespace ferry::link

#include "ferry/link/params.h"

#include <limits>

#include "ferry/link/frame.h"

namespace ferry::link {

std::string_view to_string(Side side) { return side == Side::outer ? "outer" : "inner"; }

LinkParams LinkParams::defaults(Side side) {
  LinkParams p;
  p.side = side;
  return p;
}

std::optional<std::string> LinkParams::check() const {
  using std::to_string;
  if (side != Side::outer && side != Side::inner) return "side must be outer or inner";
  if (max_frame < kMinMaxFrame || max_frame > kMaxMaxFrame) {
    return "max_frame " + to_string(max_frame) + " is outside " + to_string(kMinMaxFrame) + ".." +
           to_string(kMaxMaxFrame);
  }
  if (chunk_size == 0 || chunk_size + kFrameOverhead > max_frame) {
    return "chunk_size " + to_string(chunk_size) + " must be 1.." + to_string(max_frame - kFrameOverhead) +
           " (max_frame " + to_string(max_frame) + " less " + to_string(kFrameOverhead) + " bytes of header and seal)";
  }
  if (window == 0 || window > kMaxWindow) return "window " + to_string(window) + " is outside 1.." + to_string(kMaxWindow);
  if (max_bytes_in_flight == 0) return "max_bytes_in_flight must be positive";
  if (max_objects_in_flight == 0 || max_objects_in_flight > 4096) {
    return "max_objects_in_flight " + to_string(max_objects_in_flight) + " is outside 1..4096";
  }
  if (rekey_bytes < (std::uint64_t{1} << 20)) return "rekey_bytes must be at least 1 MiB";
  if (rekey_interval.count() <= 0) return "rekey_interval must be positive";
  if (keepalive_interval.count() <= 0 || keepalive_interval.count() > std::numeric_limits<std::uint32_t>::max()) {
    return "keepalive_interval must be 1 ms .. 2^32-1 ms";
  }
  if (retransmit_timeout.count() <= 0) return "retransmit_timeout must be positive";
  if (dead_after_keepalives < 2) return "dead_after_keepalives must be at least 2";
  if (busy_retry.count() <= 0) return "busy_retry must be positive";
  if (handshake_retry.count() <= 0) return "handshake_retry must be positive";
  return std::nullopt;
}

}  // namespace ferry::link

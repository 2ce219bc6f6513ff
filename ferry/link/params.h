// The parameters of one side of the link. max_frame, chunk_size, window and
// keepalive_interval are announced in the handshake and must be equal on both
// sides (a mismatch is refused with both values named); the rest is local.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::link {

// The outer side (extranet) always initiates the handshake (SM2 key exchange
// role A); the inner side responds (role B).
enum class Side : std::uint8_t { outer = 1, inner = 2 };
std::string_view to_string(Side side);

struct LinkParams {
  Side side = Side::outer;
  // Largest frame (header + sealed payload) either side sends or accepts.
  std::size_t max_frame = 65536;
  // Bytes of object content per DATA frame; chunk_size + kFrameOverhead <= max_frame.
  std::size_t chunk_size = 65536 - 96;
  // DATA frames of one object sent but not yet acknowledged, at most.
  std::size_t window = 32;
  // Objects this side sends at the same time, at most (local). Many small
  // objects in flight let the receiver commit them in large batches (one
  // fsync for many); max_bytes_in_flight keeps large ones to one or two at a
  // time: a new object is taken only while the bytes still to be
  // acknowledged of those in flight are below it.
  std::size_t max_objects_in_flight = 512;
  std::uint64_t max_bytes_in_flight = std::uint64_t{8} << 20;
  // The initiator rekeys after this many bytes sealed and opened under one
  // session, or after rekey_interval (local to the initiator).
  std::uint64_t rekey_bytes = std::uint64_t{1} << 30;
  std::chrono::milliseconds rekey_interval{std::chrono::hours(1)};
  // A KEEPALIVE goes out when nothing was sent for this long.
  std::chrono::milliseconds keepalive_interval{1000};
  // First retransmission timeout; doubles on each timeout up to 16 times it.
  std::chrono::milliseconds retransmit_timeout{200};
  // The link is dead when nothing authenticated arrived for this many
  // keepalive intervals.
  int dead_after_keepalives = 5;
  // After BUSY, the sender offers the object again after this long.
  std::chrono::milliseconds busy_retry{2000};
  // After a refused or failed handshake, the initiator tries again after this long.
  std::chrono::milliseconds handshake_retry{5000};
  // The sender's policy serial, told to the peer in HELLO, OFFER and KEEPALIVE.
  std::uint64_t policy_serial = 0;

  static LinkParams defaults(Side side);
  // The first problem with these values, or nullopt if they are usable.
  std::optional<std::string> check() const;
};

}  // namespace ferry::link

// A frame transport carries whole link frames between the two sides. The link
// protocol (ferry/link) treats it as a lossy datagram service, so a transport
// may drop frames (and counts what it drops) but never splits, merges or
// alters one. Implementations: a UNIX stream socket for single-host use and
// tests (here); raw Ethernet on a dedicated NIC later.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "crypto/bytes.h"

namespace ferry::hw {

struct TransportStats {
  std::uint64_t frames_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t frames_dropped_queue_full = 0;  // send() while the queue was full
  std::uint64_t frames_dropped_down = 0;        // send() while no connection
  std::uint64_t oversized_frames = 0;           // a length field above the limit: connection reset
  std::uint64_t connects = 0;                   // connections established
};

class FrameTransport {
 public:
  // up == true when a connection is established; false with the reason when
  // it is lost or refused. Frames arrive whole.
  using OnFrame = std::function<void(crypto::ByteView frame)>;
  using OnState = std::function<void(bool up, const std::string& why)>;

  virtual ~FrameTransport() = default;
  virtual void start(OnFrame on_frame, OnState on_state) = 0;
  // Queues one frame; drops it (counted) when down or when the queue is full.
  virtual void send(crypto::ByteView frame) = 0;
  virtual void stop() = 0;
  virtual bool is_up() const = 0;
  virtual std::size_t queued_bytes() const = 0;
  virtual TransportStats stats() const = 0;
};

struct UnixTransportOptions {
  enum class Role { listen, connect };
  Role role = Role::connect;
  std::string path;                  // the socket's file system path
  std::size_t max_frame = 65536 + 1024;  // a length field above this resets the connection
  std::size_t max_queued_bytes = 64u << 20;
};

// Frames on the stream as u32 big-endian length || frame. The listening side
// (inner) accepts one peer at a time, the latest connection replacing an
// older one (a reconnecting peer must not wait for the old one to time out;
// the link handshake authenticates whoever it is). The connecting side
// (outer) reconnects with exponential backoff from 100 ms to 5 s.
std::unique_ptr<FrameTransport> make_unix_transport(boost::asio::io_context& io, UnixTransportOptions options);

}  // namespace ferry::hw

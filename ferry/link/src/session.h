// One established session: the seal keys of both directions, the send
// sequence, and the receive replay window. A session id names the keys; a
// rekey makes a new session and keeps the old one for receiving until the
// next switch (docs/link-protocol.md §5.4).
#pragma once

#include <cstdint>

#include "crypto/seal.h"
#include "ferry/link/engine.h"
#include "ferry/link/frame.h"
#include "ferry/link/replay_window.h"

namespace ferry::link {

class SealedSession {
 public:
  SealedSession(std::uint64_t id, const crypto::SealKeys& send_keys, std::uint32_t send_sender,
                const crypto::SealKeys& receive_keys, TimePoint established);

  std::uint64_t id() const { return id_; }
  // Sessions are numbered locally in the order they were installed; with the
  // sequence this orders every frame of the peer by when it was sent (the
  // peer never sends under a session older than one it sent under).
  std::uint64_t generation() const { return generation_; }
  void set_generation(std::uint64_t g) { generation_ = g; }
  TimePoint established() const { return established_; }
  // Plaintext bytes sealed and opened under this session: what rekey_bytes counts.
  std::uint64_t bytes() const { return bytes_; }

  // Fills in session id, the next sequence and payload_length, and writes
  // header || seal(header, plaintext) to out.
  void seal(FrameHeader header, ByteView plaintext, Bytes& out);

  enum class Opened { ok, replay, too_old, corrupt };
  // Replay check, then the seal; the window moves only for a frame that opened.
  Opened open(const FrameView& frame, Bytes& plaintext);

 private:
  std::uint64_t id_;
  crypto::Sealer sealer_;
  crypto::Opener opener_;
  ReplayWindow window_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t generation_ = 0;
  std::uint64_t bytes_ = 0;
  TimePoint established_;
};

}  // namespace ferry::link

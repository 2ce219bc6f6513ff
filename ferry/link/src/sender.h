// The sending half: objects taken from the ObjectSource and moved to the peer
// (docs/link-protocol.md §6.1). Per object: OFFER -> ACCEPT(resume) |
// DUPLICATE | BUSY | REJECT, then DATA from the resume offset within a window
// of unacknowledged chunks, END, and DONE. Cumulative ACKs; on timeout the
// sender goes back to the last acknowledged offset (go-back-N), on three
// duplicate ACKs it resends the one missing chunk.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ferry/link/object.h"
#include "ferry/link/params.h"
#include "ferry/link/src/frame_out.h"

namespace ferry::link {

class Sender {
 public:
  Sender(const LinkParams& params, ObjectSource* source, FrameOut& out);
  ~Sender();

  // A session is up: offer every object in flight again (the receiver says
  // where each resumes).
  void on_link_up();
  // No session: nothing is sent; objects keep their place.
  void on_link_down();
  // Takes new objects from the source and sends what windows allow.
  void pump(TimePoint now);
  // Retransmission and BUSY timers, then pump().
  void tick(TimePoint now);
  // ACCEPT, DUPLICATE, BUSY, REJECT, ACK, DONE, RESTART about one of our objects.
  void on_frame(const FrameHeader& header, ByteView body, SendOrder order, TimePoint now);

  std::optional<TimePoint> next_deadline() const;
  std::size_t in_flight() const { return objects_.size(); }
  // The last pump() stopped at its budget with DATA still allowed by the window.
  bool more_to_send() const { return more_to_send_; }
  static constexpr std::size_t kChunksPerPump = 8;

 private:
  struct Outgoing;
  Outgoing* find(const ObjectId& id);
  void admit();
  void finish(const ObjectId& id);
  void send_offer(Outgoing& o, TimePoint now);
  bool send_chunk(Outgoing& o, std::uint64_t offset);
  void send_end(Outgoing& o);
  std::chrono::milliseconds timeout(const Outgoing& o) const;

  const LinkParams& params_;
  ObjectSource* source_;
  FrameOut& out_;
  std::vector<std::unique_ptr<Outgoing>> objects_;  // in the order they were taken
  Bytes chunk_;
  bool more_to_send_ = false;
};

}  // namespace ferry::link

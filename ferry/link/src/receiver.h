// The receiving half: the peer's objects written through the ObjectSink
// (docs/link-protocol.md §6.2). OFFER is answered from the engine's state
// for a transfer it knows, else by the sink; DATA is written contiguously
// (chunks ahead of a gap wait in a bounded buffer); ACK carries the
// contiguous offset; END makes the sink verify and commit, and only then
// goes DONE. A sink may commit later (CompleteAnswer::pending): the object
// then waits, completing, until the owner reports the outcome through
// completed(). Anything about an object already done or completing is
// answered DONE, DUPLICATE or BUSY and never reaches the sink twice.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "ferry/link/object.h"
#include "ferry/link/params.h"
#include "ferry/link/src/frame_out.h"

namespace ferry::link {

class Receiver {
 public:
  // Transfers the engine keeps state for, at most; beyond it, idle ones are
  // forgotten (the sink keeps their bytes) or new offers get BUSY.
  static constexpr std::size_t kMaxIncoming = 1024;
  // Recently completed ids answered without asking the sink.
  static constexpr std::size_t kRecentDone = 4096;
  // complete() failures of one id before the engine answers REJECT.
  static constexpr int kMaxCompleteFailures = 3;

  Receiver(const LinkParams& params, ObjectSink* sink, FrameOut& out);

  // OFFER, DATA or END about one of the peer's objects.
  void on_frame(const FrameHeader& header, ByteView body, TimePoint now);
  // The outcome of a completion the sink answered pending for.
  // session_up: whether DONE, RESTART or REJECT can go out now.
  void completed(const ObjectId& id, const crypto::Status& outcome, bool session_up);
  // Sends ACKs still owed.
  void tick(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  std::size_t receiving() const { return incoming_.size(); }

 private:
  struct Incoming {
    IncomingObject object;
    std::uint64_t received = 0;      // the sink holds [0, received)
    std::uint64_t ack_sent = 0;      // the last ACK sent says this
    std::map<std::uint64_t, Bytes> ahead;  // chunks beyond a gap, by offset
    bool end_seen = false;
    // The sink answered pending: it is committing the object. The transfer
    // stays until completed() and is never evicted or completed again.
    bool completing = false;
    TimePoint last_activity{};
  };

  void on_offer(const FrameHeader& h, ByteView body, TimePoint now);
  void on_data(Incoming& in, const FrameHeader& h, ByteView body);
  void on_end(Incoming& in, ByteView body);
  // Writes the part of [offset, offset+data) beyond `received`; false if the
  // sink failed (the transfer is then forgotten and BUSY sent).
  bool write(Incoming& in, std::uint64_t offset, ByteView data);
  void complete(Incoming& in);
  void committed(const IncomingObject& object, bool session_up);
  void complete_failed(const IncomingObject& object, const std::string& why, bool session_up);
  void ack(Incoming& in);
  void forget(const ObjectId& id);
  void remember_done(const ObjectId& id);
  bool make_room(TimePoint now);

  const LinkParams& params_;
  ObjectSink* sink_;
  FrameOut& out_;
  std::map<ObjectId, Incoming> incoming_;
  std::set<ObjectId> done_;
  std::deque<ObjectId> done_order_;
  std::map<ObjectId, int> failures_;
  std::deque<ObjectId> failures_order_;
  // REJECTs (complete_failed) decided while no session was up, sent when the
  // sender offers the object again.
  std::map<ObjectId, std::string> rejects_owed_;
  // Inside ObjectSink::complete: the sink must not report an outcome from there.
  bool in_sink_complete_ = false;
};

}  // namespace ferry::link

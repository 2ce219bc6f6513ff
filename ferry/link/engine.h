// LinkEngine: the link protocol of docs/link-protocol.md as a state machine
// that consumes and produces whole frames. It never touches sockets, files or
// clocks: the caller hands it received datagrams and the current time, and
// it sends through a callback. One engine per side; each is a sender (its
// ObjectSource) and a receiver (its ObjectSink) at once.
//
// Threading: one thread at a time. The send and event callbacks run inside
// the engine's calls and must not call back into the same engine.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crypto/bytes.h"
#include "crypto/device.h"
#include "crypto/sm2.h"
#include "ferry/link/frame.h"
#include "ferry/link/messages.h"
#include "ferry/link/object.h"
#include "ferry/link/params.h"

namespace ferry::link {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class LinkState {
  down,         // no transport (before connected(), after disconnected() or shutdown())
  handshaking,  // transport up, no session yet
  up,           // a session is established (a rekey may be running)
};
std::string_view to_string(LinkState state);

enum class LinkEventKind {
  handshake_started,   // the initiator sent a HELLO
  link_up,             // first session established (text: session, peer fingerprint, peer policy serial)
  rekeyed,             // a new session replaced the current one
  policy_serial_differs,  // the peer's policy serial is not ours (each side enforces its own)
  refused,             // we refused the peer's handshake; text names both values
  refused_by_peer,     // the peer refused ours; text is its reason
  handshake_failed,    // key confirmation or transcript check failed
  link_dead,           // nothing authenticated for dead_after_keepalives intervals
  link_closed,         // the peer sent CLOSE, or the transport went down
  object_sent,         // the peer holds an object of ours durably (DONE or DUPLICATE)
  object_received,     // the sink committed an object from the peer
  object_rejected,     // an object was refused (by the peer, by our sink, or locally)
  object_restarted,    // the sink could not complete an object: it starts again from 0
  object_write_failed, // the sink could not write: the transfer pauses (BUSY)
};
std::string_view to_string(LinkEventKind kind);

struct LinkEvent {
  LinkEventKind kind;
  std::string text;
  std::optional<ObjectId> object;
};

// Frames dropped without being acted on, by reason.
struct DropCounters {
  std::uint64_t malformed = 0;      // did not decode (see malformed_by_reason)
  std::uint64_t wrong_session = 0;  // sealed under no session we hold
  std::uint64_t replay = 0;         // sequence already seen in the window
  std::uint64_t out_of_window = 0;  // sequence older than the window
  std::uint64_t corrupt = 0;        // seal did not open (tag failed)
  std::uint64_t unexpected = 0;     // well-formed but not valid in this state (e.g. a stale handshake frame)
  std::array<std::uint64_t, kDecodeErrorCount> malformed_by_reason{};
};

struct LinkCounters {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  DropCounters dropped;
  std::uint64_t handshakes = 0;          // sessions established (first one and rekeys)
  std::uint64_t refusals = 0;            // handshakes we refused
  std::uint64_t data_retransmitted = 0;  // DATA frames sent again (timeout or fast retransmit)
  std::uint64_t timeouts = 0;            // retransmission timers that fired
  std::uint64_t objects_sent = 0;
  std::uint64_t objects_received = 0;
  std::uint64_t objects_rejected = 0;
  std::uint64_t bytes_delivered = 0;     // object bytes written to the sink
};

struct LinkStatus {
  LinkState state = LinkState::down;
  bool rekeying = false;
  std::uint64_t session_id = 0;
  std::chrono::milliseconds session_age{0};  // as of the last time passed in
  Fingerprint own_fingerprint{};
  Fingerprint peer_fingerprint{};            // the pinned key's
  std::optional<std::uint64_t> peer_policy_serial;
  LinkCounters counters;
  std::size_t objects_sending = 0;    // ours, in flight (taken from the source, not yet done)
  std::size_t objects_receiving = 0;  // the peer's, partly received or waiting for the sink to commit
  std::string last_error;
};

class LinkEngine {
 public:
  using SendFrame = std::function<void(crypto::ByteView frame)>;
  using OnEvent = std::function<void(const LinkEvent& event)>;

  // params must pass LinkParams::check() (a bug otherwise). The session, the
  // source and the sink must outlive the engine. identity names this side's
  // SM2 key in the device; peer is the other side's pinned public key.
  LinkEngine(LinkParams params, crypto::CryptoSession& crypto, crypto::KeyIndex identity, crypto::Sm2PublicKey peer,
             ObjectSource* source, ObjectSink* sink, SendFrame send, OnEvent on_event);
  ~LinkEngine();
  LinkEngine(const LinkEngine&) = delete;
  LinkEngine& operator=(const LinkEngine&) = delete;

  // The transport is up: the initiator sends HELLO, the responder waits for
  // one. Calling it again restarts the handshake.
  void connected(TimePoint now);
  // The transport is gone: sessions are dropped, objects in flight wait for
  // the next session and resume from their acknowledged offsets.
  void disconnected();
  // One datagram from the peer. Hostile bytes are counted and dropped.
  void receive(crypto::ByteView frame, TimePoint now);
  // Timers: retransmissions, keepalives, dead-link detection, rekeying, and
  // taking new objects from the source. Call it at least every
  // retransmit_timeout / 2, or at next_deadline().
  void tick(TimePoint now);
  // Sends CLOSE (if a session is up) and goes down, e.g. on SIGTERM.
  void shutdown(std::string_view reason, TimePoint now);
  // The sink finished a completion it answered CompleteAnswer::pending for.
  // Call it outside the engine's calls (never from a sink or callback), with
  // or without a link. ok: as if complete() had answered committed (DONE goes
  // to the peer if a session is up; otherwise the id is remembered as done,
  // so that the sender's next OFFER gets DUPLICATE). An error: as if it had
  // answered failed. An id with no pending completion (the engine was
  // replaced, or the owner answers twice) changes nothing, except that ok
  // remembers the id as done.
  void completed(const ObjectId& id, crypto::Status outcome, TimePoint now);
  // Our policy was reloaded: tell the peer (KEEPALIVE carries the serial).
  void set_policy_serial(std::uint64_t serial, TimePoint now);

  // DATA is waiting that the window allows but the last call did not send
  // (each call sends a bounded amount): call tick() again once the
  // transport has had its turn, without waiting for next_deadline().
  bool has_more_to_send() const;
  // The earliest time tick() has something to do; nullopt when down.
  std::optional<TimePoint> next_deadline() const;
  LinkStatus status() const;
  const LinkParams& params() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::link

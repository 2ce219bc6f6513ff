#include "ferry/link/engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "ferry/link/src/check.h"
#include "ferry/link/src/frame_out.h"
#include "ferry/link/src/handshake.h"
#include "ferry/link/src/receiver.h"
#include "ferry/link/src/sender.h"
#include "ferry/link/src/session.h"

namespace ferry::link {

std::string_view to_string(LinkState state) {
  switch (state) {
    case LinkState::down: return "down";
    case LinkState::handshaking: return "handshaking";
    case LinkState::up: return "up";
  }
  return "unknown";
}

std::string_view to_string(LinkEventKind kind) {
  switch (kind) {
    case LinkEventKind::handshake_started: return "handshake_started";
    case LinkEventKind::link_up: return "link_up";
    case LinkEventKind::rekeyed: return "rekeyed";
    case LinkEventKind::policy_serial_differs: return "policy_serial_differs";
    case LinkEventKind::refused: return "refused";
    case LinkEventKind::refused_by_peer: return "refused_by_peer";
    case LinkEventKind::handshake_failed: return "handshake_failed";
    case LinkEventKind::link_dead: return "link_dead";
    case LinkEventKind::link_closed: return "link_closed";
    case LinkEventKind::object_sent: return "object_sent";
    case LinkEventKind::object_received: return "object_received";
    case LinkEventKind::object_rejected: return "object_rejected";
    case LinkEventKind::object_restarted: return "object_restarted";
    case LinkEventKind::object_write_failed: return "object_write_failed";
  }
  return "unknown";
}

namespace {

// CONFIRM retransmissions before the initiator starts a fresh handshake.
constexpr int kMaxConfirmRetransmits = 8;
constexpr int kMaxHandshakeBackoff = 4;

std::string session_hex(std::uint64_t id) {
  std::uint8_t b[8];
  for (int i = 7; i >= 0; --i, id >>= 8) b[i] = static_cast<std::uint8_t>(id);
  return crypto::to_hex(b);
}

}  // namespace

struct LinkEngine::Impl final : FrameOut {
  Impl(LinkParams p, crypto::CryptoSession& c, crypto::KeyIndex id, crypto::Sm2PublicKey peer_key, ObjectSource* source,
       ObjectSink* sink, SendFrame send_frame, OnEvent event)
      : params(std::move(p)),
        device(c),
        identity(id),
        peer(std::move(peer_key)),
        send(std::move(send_frame)),
        on_event(std::move(event)),
        sender(params, source, *this),
        receiver(params, sink, *this) {
    peer_fingerprint = crypto::Sm3::digest(peer.point());
    // A missing identity key shows up as a failed handshake with the device's message.
    if (crypto::Result<crypto::Sm2PublicKey> own = device.export_sign_public_key(identity); own.ok()) {
      own_fingerprint = crypto::Sm3::digest(own->point());
    }
  }

  // --- FrameOut ---
  void send_sealed(FrameType type, const ObjectId& object, std::uint64_t offset, ByteView body) override {
    FERRY_LINK_CHECK(current != nullptr, "sealed frame without a session");
    FrameHeader h;
    h.type = type;
    h.object = object;
    h.offset = offset;
    current->seal(h, body, frame_buffer);
    transmit(frame_buffer);
    last_sent = now;
  }
  void emit(LinkEventKind kind, std::string text, std::optional<ObjectId> object) override {
    switch (kind) {
      case LinkEventKind::refused:
      case LinkEventKind::refused_by_peer:
      case LinkEventKind::handshake_failed:
      case LinkEventKind::link_dead:
      case LinkEventKind::link_closed:
      case LinkEventKind::object_write_failed:
      case LinkEventKind::object_restarted:
        last_error = text;
        break;
      default:
        break;
    }
    if (on_event) on_event(LinkEvent{kind, std::move(text), object});
  }
  LinkCounters& counters() override { return counters_; }

  HandshakeEnv env() { return HandshakeEnv{params, device, identity, peer, own_fingerprint, peer_fingerprint}; }
  bool initiator() const { return params.side == Side::outer; }

  void transmit(ByteView frame) {
    counters_.frames_out++;
    counters_.bytes_out += frame.size();
    send(frame);
  }

  void drop_sessions() {
    current.reset();
    previous.reset();
    pending.reset();
    hello.reset();
    hello_of_current.reset();
    handshake = Handshake::idle;
  }

  // --- handshake, initiator side ---
  void begin_handshake() {
    pending.reset();
    crypto::Result<InitiatorHello> h = initiator_hello(env());
    if (!h.ok()) {
      emit(LinkEventKind::handshake_failed, "cannot start the handshake: " + h.error().message, std::nullopt);
      hello.reset();
      handshake = Handshake::waiting_retry;
      handshake_deadline = now + params.handshake_retry;
      return;
    }
    hello = std::move(h).value();
    handshake = Handshake::awaiting_reply;
    handshake_attempts = 0;
    handshake_deadline = now + params.retransmit_timeout;
    transmit(hello->frame);
    emit(LinkEventKind::handshake_started, state == LinkState::up ? "rekey: HELLO sent" : "HELLO sent", std::nullopt);
  }

  void handshake_timers() {
    if (handshake == Handshake::idle || now < handshake_deadline) return;
    switch (handshake) {
      case Handshake::awaiting_reply:
        ++handshake_attempts;
        transmit(hello->frame);
        handshake_deadline =
            now + params.retransmit_timeout * (1 << std::min(handshake_attempts, kMaxHandshakeBackoff));
        return;
      case Handshake::confirming:
        if (++handshake_attempts > kMaxConfirmRetransmits) {
          begin_handshake();
          return;
        }
        transmit(pending->frame);
        handshake_deadline =
            now + params.retransmit_timeout * (1 << std::min(handshake_attempts, kMaxHandshakeBackoff));
        return;
      case Handshake::waiting_retry:
        begin_handshake();
        return;
      case Handshake::idle:
        return;
    }
  }

  void maybe_rekey() {
    if (!initiator() || state != LinkState::up || handshake != Handshake::idle) return;
    if (current->bytes() >= params.rekey_bytes || now - current->established() >= params.rekey_interval) {
      begin_handshake();
    }
  }

  // The handshake failed on our side: tell the peer, wait, try again.
  void initiator_gives_up(LinkEventKind kind, const Refusal& r) {
    if (kind == LinkEventKind::refused) counters_.refusals++;
    emit(kind, r.text, std::nullopt);
    transmit(refuse_frame(r));
    hello.reset();
    pending.reset();
    handshake = Handshake::waiting_retry;
    handshake_deadline = now + params.handshake_retry;
  }

  // --- sessions ---
  void note_peer_serial(std::uint64_t serial) {
    if (peer_policy_serial && *peer_policy_serial == serial) return;
    peer_policy_serial = serial;
    if (serial != params.policy_serial) {
      emit(LinkEventKind::policy_serial_differs,
           "peer policy serial " + std::to_string(serial) + ", ours " + std::to_string(params.policy_serial) +
               " (each side enforces its own policy)",
           std::nullopt);
    }
  }

  // A pending session becomes the current one; the old one stays for receiving.
  void install_pending() {
    const bool was_up = state == LinkState::up;
    const std::uint64_t old_id = current ? current->id() : 0;
    const std::uint64_t serial = pending->peer_policy_serial;
    if (!initiator()) hello_of_current = pending->initiator_nonce;
    previous = std::move(current);
    current = std::move(pending->session);
    current->set_generation(++generations);
    pending.reset();
    hello.reset();
    handshake = Handshake::idle;
    state = LinkState::up;
    counters_.handshakes++;
    last_received = now;
    if (was_up) {
      emit(LinkEventKind::rekeyed, "rekeyed: session " + session_hex(current->id()) + " replaces " + session_hex(old_id),
           std::nullopt);
    } else {
      last_sent = now;
      emit(LinkEventKind::link_up,
           "link up: session " + session_hex(current->id()) + ", peer (" +
               std::string(to_string(initiator() ? Side::inner : Side::outer)) + ") key " +
               crypto::to_hex(peer_fingerprint) + ", peer policy serial " + std::to_string(serial),
           std::nullopt);
    }
    note_peer_serial(serial);
    if (!initiator()) send_sealed(FrameType::keepalive, {}, 0, encode(KeepaliveBody{params.policy_serial}));
    if (!was_up) sender.on_link_up();
  }

  void reset_link() {
    drop_sessions();
    sender.on_link_down();
    state = LinkState::handshaking;
    if (initiator()) begin_handshake();
  }

  // --- receiving ---
  void on_handshake_frame(const FrameView& f) {
    switch (f.header.type) {
      case FrameType::hello: on_hello(f); return;
      case FrameType::hello_reply: on_hello_reply(f); return;
      case FrameType::confirm: on_confirm(f); return;
      case FrameType::refuse: on_refuse(f); return;
      default: FERRY_LINK_CHECK(false, "not a handshake frame");
    }
  }

  void refuse_peer(const Refusal& r) {
    counters_.refusals++;
    emit(LinkEventKind::refused, "refused the peer's handshake: " + r.text, std::nullopt);
    transmit(refuse_frame(r));
  }

  void on_hello(const FrameView& f) {
    Decoded<HelloBody> body = decode_hello(f.payload);
    if (!body.ok()) {
      count_malformed(body.error());
      return;
    }
    if (initiator()) {
      // Two outer sides: only the inner side answers HELLO.
      refuse_peer(Refusal{refuse_code::side, "side: peer " +
                                                 std::string(body->side == 2 ? "inner" : body->side == 1 ? "outer" : "?") +
                                                 ", ours outer (only the inner side answers HELLO)"});
      return;
    }
    if (pending && pending->initiator_nonce == body->nonce) {
      transmit(pending->frame);  // our HELLO_REPLY was lost
      return;
    }
    if (hello_of_current && *hello_of_current == body->nonce) {
      counters_.dropped.unexpected++;  // a late copy of the HELLO that made the current session
      return;
    }
    std::variant<Refusal, PendingSession> r = responder_on_hello(env(), f, *body, now);
    if (Refusal* refusal = std::get_if<Refusal>(&r)) {
      refuse_peer(*refusal);
      return;
    }
    pending = std::move(std::get<PendingSession>(r));
    transmit(pending->frame);
  }

  void on_hello_reply(const FrameView& f) {
    if (!initiator() || handshake != Handshake::awaiting_reply) {
      counters_.dropped.unexpected++;
      return;
    }
    Decoded<HelloReplyBody> body = decode_hello_reply(f.payload);
    if (!body.ok()) {
      count_malformed(body.error());
      return;
    }
    if (body->initiator_nonce != hello->nonce) {
      counters_.dropped.unexpected++;  // answers an older HELLO
      return;
    }
    std::variant<Refusal, PendingSession> r = initiator_on_reply(env(), *hello, f, *body, now);
    if (Refusal* refusal = std::get_if<Refusal>(&r)) {
      const bool ours_to_refuse = refusal->code != refuse_code::key_confirmation &&
                                  refusal->code != refuse_code::transcript && refusal->code != refuse_code::internal;
      initiator_gives_up(ours_to_refuse ? LinkEventKind::refused : LinkEventKind::handshake_failed, *refusal);
      return;
    }
    pending = std::move(std::get<PendingSession>(r));
    handshake = Handshake::confirming;
    handshake_attempts = 0;
    handshake_deadline = now + params.retransmit_timeout;
    transmit(pending->frame);
  }

  void on_confirm(const FrameView& f) {
    if (initiator()) {
      counters_.dropped.unexpected++;
      return;
    }
    if (current && f.header.session_id == current->id()) {
      // Our first sealed frame after the last CONFIRM was lost: answer again.
      send_sealed(FrameType::keepalive, {}, 0, encode(KeepaliveBody{params.policy_serial}));
      return;
    }
    if (!pending || pending->session->id() != f.header.session_id) {
      counters_.dropped.unexpected++;
      return;
    }
    Decoded<ConfirmBody> body = decode_confirm(f.payload);
    if (!body.ok()) {
      count_malformed(body.error());
      return;
    }
    if (std::optional<Refusal> r = responder_on_confirm(env(), *pending, *body)) {
      emit(LinkEventKind::handshake_failed, r->text, std::nullopt);
      transmit(refuse_frame(*r));
      pending.reset();
      return;
    }
    install_pending();
  }

  void on_refuse(const FrameView& f) {
    Decoded<ReasonBody> body = decode_reason(f.payload);
    if (!body.ok()) {
      count_malformed(body.error());
      return;
    }
    peer_refused(body->text, "");
  }

  void peer_refused(const std::string& text, const std::string& qualifier) {
    // REFUSE is not authenticated: it can only end a handshake in progress.
    if (initiator() && (handshake == Handshake::awaiting_reply || handshake == Handshake::confirming)) {
      emit(LinkEventKind::refused_by_peer, "peer refused the handshake" + qualifier + ": " + text, std::nullopt);
      hello.reset();
      pending.reset();
      handshake = Handshake::waiting_retry;
      handshake_deadline = now + params.handshake_retry;
    } else if (!initiator() && pending) {
      emit(LinkEventKind::refused_by_peer, "peer refused the handshake" + qualifier + ": " + text, std::nullopt);
      pending.reset();
    } else {
      counters_.dropped.unexpected++;
    }
  }

  // A frame of another protocol version: its header layout is the same in
  // every version, so a HELLO can be refused and a REFUSE read, naming both versions.
  void on_foreign_version(ByteView frame) {
    std::optional<PeekedHeader> p = peek_header(frame);
    if (!p) return;
    const std::string versions =
        "protocol version: peer " + std::to_string(p->version) + ", ours " + std::to_string(kProtocolVersion);
    if (!initiator() && p->type == static_cast<std::uint8_t>(FrameType::hello)) {
      refuse_peer(Refusal{refuse_code::version, versions});
    } else if (initiator() && p->type == static_cast<std::uint8_t>(FrameType::refuse)) {
      Decoded<ReasonBody> body = decode_reason(frame.subspan(kHeaderSize));
      peer_refused(body.ok() ? body->text : std::string("(unreadable reason)"), " (" + versions + ")");
    }
  }

  SealedSession* session_for(std::uint64_t id, bool& is_pending) {
    is_pending = false;
    if (current && current->id() == id) return current.get();
    if (previous && previous->id() == id) return previous.get();
    // The initiator's pending session: the responder's first frame under it completes the handshake.
    if (initiator() && pending && handshake == Handshake::confirming && pending->session->id() == id) {
      is_pending = true;
      return pending->session.get();
    }
    return nullptr;
  }

  void on_sealed_frame(const FrameView& f) {
    bool is_pending = false;
    SealedSession* s = session_for(f.header.session_id, is_pending);
    if (s == nullptr) {
      counters_.dropped.wrong_session++;
      return;
    }
    switch (s->open(f, plaintext)) {
      case SealedSession::Opened::replay: counters_.dropped.replay++; return;
      case SealedSession::Opened::too_old: counters_.dropped.out_of_window++; return;
      case SealedSession::Opened::corrupt: counters_.dropped.corrupt++; return;
      case SealedSession::Opened::ok: break;
    }
    last_received = now;
    if (is_pending) install_pending();
    const FrameHeader& h = f.header;
    switch (h.type) {
      case FrameType::keepalive: {
        Decoded<KeepaliveBody> body = decode_keepalive(plaintext);
        if (!body.ok()) {
          count_malformed(body.error());
          return;
        }
        note_peer_serial(body->policy_serial);
        return;
      }
      case FrameType::close: {
        Decoded<ReasonBody> body = decode_reason(plaintext);
        emit(LinkEventKind::link_closed,
             "peer closed the link: " + (body.ok() ? body->text : std::string("(unreadable reason)")), std::nullopt);
        reset_link();
        return;
      }
      case FrameType::offer:
      case FrameType::data:
      case FrameType::end:
        receiver.on_frame(h, plaintext, now);
        return;
      default:
        sender.on_frame(h, plaintext, SendOrder{s->generation(), h.sequence}, now);
        return;
    }
  }

  LinkParams params;
  crypto::CryptoSession& device;
  crypto::KeyIndex identity;
  crypto::Sm2PublicKey peer;
  Fingerprint own_fingerprint{};
  Fingerprint peer_fingerprint{};
  SendFrame send;
  OnEvent on_event;

  LinkState state = LinkState::down;
  TimePoint now{};
  std::unique_ptr<SealedSession> current;
  std::unique_ptr<SealedSession> previous;
  // Initiator: after CONFIRM, until the responder's first sealed frame.
  // Responder: after HELLO_REPLY, until CONFIRM.
  std::optional<PendingSession> pending;
  enum class Handshake { idle, awaiting_reply, confirming, waiting_retry } handshake = Handshake::idle;
  std::optional<InitiatorHello> hello;
  int handshake_attempts = 0;
  TimePoint handshake_deadline{};
  std::optional<Nonce> hello_of_current;  // responder: the HELLO nonce of the current session
  std::optional<std::uint64_t> peer_policy_serial;
  std::uint64_t generations = 0;  // sessions installed so far
  TimePoint last_received{};  // last authenticated frame
  TimePoint last_sent{};      // last sealed frame
  LinkCounters counters_;
  std::string last_error;
  Bytes frame_buffer;
  Bytes plaintext;
  Sender sender;
  Receiver receiver;
};

LinkEngine::LinkEngine(LinkParams params, crypto::CryptoSession& crypto, crypto::KeyIndex identity,
                       crypto::Sm2PublicKey peer, ObjectSource* source, ObjectSink* sink, SendFrame send,
                       OnEvent on_event) {
  if (std::optional<std::string> problem = params.check()) {
    std::fprintf(stderr, "ferry link: invalid LinkParams: %s\n", problem->c_str());
    std::abort();
  }
  impl_ = std::make_unique<Impl>(std::move(params), crypto, identity, std::move(peer), source, sink, std::move(send),
                                 std::move(on_event));
}

LinkEngine::~LinkEngine() = default;

void LinkEngine::connected(TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  m.drop_sessions();
  m.sender.on_link_down();
  m.state = LinkState::handshaking;
  if (m.initiator()) m.begin_handshake();
}

void LinkEngine::disconnected() {
  Impl& m = *impl_;
  if (m.state == LinkState::down) return;
  m.drop_sessions();
  m.sender.on_link_down();
  m.state = LinkState::down;
  m.emit(LinkEventKind::link_closed, "transport down", std::nullopt);
}

void LinkEngine::receive(crypto::ByteView frame, TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  m.counters_.frames_in++;
  m.counters_.bytes_in += frame.size();
  if (m.state == LinkState::down) {
    m.counters_.dropped.unexpected++;
    return;
  }
  Decoded<FrameView> f = decode_frame(frame, m.params.max_frame);
  if (!f.ok()) {
    m.count_malformed(f.error());
    if (f.error() == DecodeError::bad_version) m.on_foreign_version(frame);
    return;
  }
  if (is_handshake(f->header.type)) {
    m.on_handshake_frame(*f);
  } else {
    m.on_sealed_frame(*f);
  }
  if (m.state == LinkState::up) {
    m.maybe_rekey();
    m.sender.pump(now);
  }
}

void LinkEngine::tick(TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  if (m.state == LinkState::down) return;
  m.handshake_timers();
  if (m.state != LinkState::up) return;
  const auto dead_after = m.params.keepalive_interval * m.params.dead_after_keepalives;
  if (now - m.last_received >= dead_after) {
    m.emit(LinkEventKind::link_dead,
           "no authenticated frame from the peer for " +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - m.last_received).count()) +
               " ms (" + std::to_string(m.params.dead_after_keepalives) + " keepalive intervals of " +
               std::to_string(m.params.keepalive_interval.count()) + " ms)",
           std::nullopt);
    m.reset_link();
    return;
  }
  m.maybe_rekey();
  m.receiver.tick(now);
  m.sender.tick(now);
  if (m.state == LinkState::up && now - m.last_sent >= m.params.keepalive_interval) {
    m.send_sealed(FrameType::keepalive, {}, 0, encode(KeepaliveBody{m.params.policy_serial}));
  }
}

void LinkEngine::shutdown(std::string_view reason, TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  if (m.state == LinkState::up) {
    m.send_sealed(FrameType::close, {}, 0, encode(ReasonBody{0, std::string(reason)}));
  }
  m.drop_sessions();
  m.sender.on_link_down();
  m.state = LinkState::down;
}

void LinkEngine::completed(const ObjectId& id, crypto::Status outcome, TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  m.receiver.completed(id, outcome, m.current != nullptr);
}

void LinkEngine::set_policy_serial(std::uint64_t serial, TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  m.params.policy_serial = serial;
  if (m.state == LinkState::up) m.send_sealed(FrameType::keepalive, {}, 0, encode(KeepaliveBody{serial}));
}

std::optional<TimePoint> LinkEngine::next_deadline() const {
  const Impl& m = *impl_;
  if (m.state == LinkState::down) return std::nullopt;
  std::optional<TimePoint> earliest;
  auto consider = [&](std::optional<TimePoint> t) {
    if (t && (!earliest || *t < *earliest)) earliest = t;
  };
  if (m.handshake != Impl::Handshake::idle) consider(m.handshake_deadline);
  if (m.state == LinkState::up) {
    consider(m.last_sent + m.params.keepalive_interval);
    consider(m.last_received + m.params.keepalive_interval * m.params.dead_after_keepalives);
    if (m.initiator() && m.handshake == Impl::Handshake::idle) consider(m.current->established() + m.params.rekey_interval);
    consider(m.sender.next_deadline());
    consider(m.receiver.next_deadline());
  }
  return earliest;
}

bool LinkEngine::has_more_to_send() const {
  return impl_->state == LinkState::up && impl_->sender.more_to_send();
}

LinkStatus LinkEngine::status() const {
  const Impl& m = *impl_;
  LinkStatus s;
  s.state = m.state;
  s.rekeying = m.state == LinkState::up && (m.initiator() ? m.handshake != Impl::Handshake::idle : m.pending.has_value());
  if (m.current) {
    s.session_id = m.current->id();
    s.session_age = std::chrono::duration_cast<std::chrono::milliseconds>(m.now - m.current->established());
  }
  s.own_fingerprint = m.own_fingerprint;
  s.peer_fingerprint = m.peer_fingerprint;
  s.peer_policy_serial = m.peer_policy_serial;
  s.counters = m.counters_;
  s.objects_sending = m.sender.in_flight();
  s.objects_receiving = m.receiver.receiving();
  s.last_error = m.last_error;
  return s;
}

const LinkParams& LinkEngine::params() const { return impl_->params; }

}  // namespace ferry::link

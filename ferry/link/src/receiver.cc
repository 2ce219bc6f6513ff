#include "ferry/link/src/receiver.h"

#include <algorithm>

#include "ferry/link/messages.h"
#include "ferry/link/src/check.h"

namespace ferry::link {
namespace {

std::string object_name(const IncomingObject& o) { return o.channel + "/" + o.path; }

}  // namespace

Receiver::Receiver(const LinkParams& params, ObjectSink* sink, FrameOut& out)
    : params_(params), sink_(sink), out_(out) {}

void Receiver::remember_done(const ObjectId& id) {
  if (!done_.insert(id).second) return;
  done_order_.push_back(id);
  if (done_order_.size() > kRecentDone) {
    done_.erase(done_order_.front());
    done_order_.pop_front();
  }
}

void Receiver::forget(const ObjectId& id) { incoming_.erase(id); }

bool Receiver::make_room(TimePoint now) {
  if (incoming_.size() < kMaxIncoming) return true;
  // A transfer nobody touched for this long has a sender that gave it up or
  // went away; its bytes stay in the sink, and a new OFFER resumes them.
  const auto idle = std::max(params_.keepalive_interval * params_.dead_after_keepalives * 2,
                             params_.retransmit_timeout * 64);
  // One the sink is committing is not idle: its outcome is still to come.
  auto oldest = incoming_.end();
  for (auto it = incoming_.begin(); it != incoming_.end(); ++it) {
    if (it->second.completing) continue;
    if (oldest == incoming_.end() || it->second.last_activity < oldest->second.last_activity) oldest = it;
  }
  if (oldest == incoming_.end() || now - oldest->second.last_activity < idle) return false;
  incoming_.erase(oldest);
  return true;
}

void Receiver::on_frame(const FrameHeader& h, ByteView body, TimePoint now) {
  if (h.type == FrameType::offer) {
    on_offer(h, body, now);
    return;
  }
  FERRY_LINK_CHECK(h.type == FrameType::data || h.type == FrameType::end, "receiver handed a frame it does not handle");
  if (done_.contains(h.object)) {
    out_.send_sealed(FrameType::done, h.object, 0, {});
    return;
  }
  auto it = incoming_.find(h.object);
  if (it == incoming_.end()) {
    // No state (forgotten, or restarted after a failed complete): the sender
    // must offer again so that the sink says where to resume.
    out_.send_sealed(FrameType::restart, h.object, 0, {});
    return;
  }
  // A retransmission that crossed our ACK of the last byte: the sink is
  // committing the object, and DONE follows its outcome.
  if (it->second.completing) return;
  it->second.last_activity = now;
  if (h.type == FrameType::data) {
    on_data(it->second, h, body);
  } else {
    on_end(it->second, body);
  }
}

void Receiver::on_offer(const FrameHeader& h, ByteView body, TimePoint now) {
  Decoded<OfferBody> offer = decode_offer(body);
  if (!offer.ok()) {
    out_.count_malformed(DecodeError::bad_body);
    out_.send_sealed(FrameType::reject, h.object, 0, encode(ReasonBody{reject_code::malformed_offer, "OFFER does not parse"}));
    return;
  }
  if (done_.contains(h.object)) {
    out_.send_sealed(FrameType::duplicate, h.object, 0, {});
    return;
  }
  if (auto owed = rejects_owed_.find(h.object); owed != rejects_owed_.end()) {
    out_.send_sealed(FrameType::reject, h.object, 0, encode(ReasonBody{reject_code::complete_failed, owed->second}));
    rejects_owed_.erase(owed);
    return;
  }
  IncomingObject object{h.object, offer->channel, offer->path, offer->size, offer->sm3, offer->policy_serial};
  if (auto it = incoming_.find(h.object); it != incoming_.end()) {
    Incoming& in = it->second;
    if (in.object.size != object.size || in.object.sm3 != object.sm3 || in.object.channel != object.channel ||
        in.object.path != object.path) {
      const std::string text = "object id " + h.object.hex() + " offered again with other metadata";
      // One being committed stays: the sink still reports its outcome.
      if (!in.completing) forget(h.object);
      out_.counters().objects_rejected++;
      out_.emit(LinkEventKind::object_rejected, text, h.object);
      out_.send_sealed(FrameType::reject, h.object, 0, encode(ReasonBody{reject_code::id_reused, text}));
      return;
    }
    if (in.completing) {
      // The sender reconnected while the sink commits: it waits, and DONE
      // (or RESTART) comes when the sink reports; if that DONE is lost, the
      // next OFFER gets DUPLICATE.
      out_.send_sealed(FrameType::busy, h.object, 0, {});
      return;
    }
    // A transfer we know (the sender reconnected, or our ACCEPT was lost):
    // resume where our state says, which the sink already holds.
    in.last_activity = now;
    in.ahead.clear();
    in.ack_sent = in.received;
    out_.send_sealed(FrameType::accept, h.object, in.received, {});
    return;
  }
  if (sink_ == nullptr) {
    out_.send_sealed(FrameType::reject, h.object, 0,
                     encode(ReasonBody{reject_code::first_daemon_code, "this side receives no objects"}));
    return;
  }
  if (!make_room(now)) {
    out_.send_sealed(FrameType::busy, h.object, 0, {});
    return;
  }
  const OfferAnswer answer = sink_->offer(object);
  switch (answer.kind) {
    case OfferAnswer::Kind::accept: {
      FERRY_LINK_CHECK(answer.resume_offset <= object.size, "sink resumes beyond the object's size");
      Incoming in;
      in.object = std::move(object);
      in.received = in.ack_sent = answer.resume_offset;
      in.last_activity = now;
      incoming_.emplace(h.object, std::move(in));
      out_.send_sealed(FrameType::accept, h.object, answer.resume_offset, {});
      return;
    }
    case OfferAnswer::Kind::duplicate:
      remember_done(h.object);
      out_.send_sealed(FrameType::duplicate, h.object, 0, {});
      return;
    case OfferAnswer::Kind::busy:
      out_.send_sealed(FrameType::busy, h.object, 0, {});
      return;
    case OfferAnswer::Kind::reject:
      out_.counters().objects_rejected++;
      out_.emit(LinkEventKind::object_rejected,
                "refused " + object_name(object) + " (code " + std::to_string(answer.code) + "): " + answer.text,
                h.object);
      out_.send_sealed(FrameType::reject, h.object, 0, encode(ReasonBody{answer.code, answer.text}));
      return;
  }
}

bool Receiver::write(Incoming& in, std::uint64_t offset, ByteView data) {
  if (offset + data.size() <= in.received) return true;
  const ByteView fresh = data.subspan(static_cast<std::size_t>(in.received - offset));
  crypto::Status st = sink_->write(in.object.id, in.received, fresh);
  if (!st.ok()) {
    const ObjectId id = in.object.id;
    out_.emit(LinkEventKind::object_write_failed,
              "writing " + object_name(in.object) + " at offset " + std::to_string(in.received) +
                  " failed: " + st.error().message + "; the sender will offer it again",
              id);
    forget(id);
    out_.send_sealed(FrameType::busy, id, 0, {});
    return false;
  }
  in.received += fresh.size();
  out_.counters().bytes_delivered += fresh.size();
  return true;
}

void Receiver::on_data(Incoming& in, const FrameHeader& h, ByteView body) {
  const std::uint64_t size = in.object.size;
  if (body.empty() || h.offset > size || body.size() > size - h.offset || body.size() > params_.chunk_size) {
    out_.counters().dropped.unexpected++;
    return;
  }
  if (h.offset > in.received) {
    // Ahead of a gap: keep it if it is within the window, and tell the
    // sender what is missing (a duplicate ACK).
    const std::uint64_t window_bytes = static_cast<std::uint64_t>(params_.window) * params_.chunk_size;
    if (h.offset - in.received < window_bytes && in.ahead.size() < params_.window) {
      in.ahead.try_emplace(h.offset, body.begin(), body.end());
    }
    out_.send_sealed(FrameType::ack, in.object.id, in.received, {});
    in.ack_sent = in.received;
    return;
  }
  if (h.offset + body.size() <= in.received) {
    // Already held: the sender went back further than needed.
    out_.send_sealed(FrameType::ack, in.object.id, in.received, {});
    in.ack_sent = in.received;
    return;
  }
  if (!write(in, h.offset, body)) return;
  // Chunks that waited behind the gap.
  while (!in.ahead.empty() && in.ahead.begin()->first <= in.received) {
    auto first = in.ahead.begin();
    Bytes chunk = std::move(first->second);
    const std::uint64_t offset = first->first;
    in.ahead.erase(first);
    if (!write(in, offset, chunk)) return;
  }
  const std::uint64_t stride = static_cast<std::uint64_t>(std::max<std::size_t>(1, params_.window / 4)) * params_.chunk_size;
  if (in.received == size && in.end_seen) {
    complete(in);
    return;
  }
  if (in.received - in.ack_sent >= stride || in.received == size) ack(in);
}

void Receiver::on_end(Incoming& in, ByteView body) {
  Decoded<EndBody> end = decode_end(body);
  const ObjectId id = in.object.id;
  if (!end.ok() || end->total != in.object.size || end->sm3 != in.object.sm3) {
    if (!end.ok()) out_.count_malformed(DecodeError::bad_body);
    const std::string text =
        end.ok() ? "END says " + std::to_string(end->total) + " bytes with SM3 " + crypto::to_hex(end->sm3) +
                       ", the OFFER said " + std::to_string(in.object.size) + " bytes with SM3 " +
                       crypto::to_hex(in.object.sm3)
                 : "END does not parse";
    out_.counters().objects_rejected++;
    out_.emit(LinkEventKind::object_rejected, "refused " + object_name(in.object) + ": " + text, id);
    forget(id);
    out_.send_sealed(FrameType::reject, id, 0, encode(ReasonBody{reject_code::bad_end, text}));
    return;
  }
  in.end_seen = true;
  if (in.received == in.object.size) {
    complete(in);
  } else {
    ack(in);  // the sender has more to send, or resend
  }
}

void Receiver::complete(Incoming& in) {
  const IncomingObject object = in.object;
  in_sink_complete_ = true;
  CompleteAnswer answer = sink_->complete(object.id, object.size, object.sm3);
  in_sink_complete_ = false;
  switch (answer.kind) {
    case CompleteAnswer::Kind::committed:
      forget(object.id);
      committed(object, true);
      return;
    case CompleteAnswer::Kind::failed:
      forget(object.id);
      complete_failed(object, answer.text, true);
      return;
    case CompleteAnswer::Kind::pending:
      in.completing = true;
      in.ahead.clear();
      // Every byte is held: the sender's timer then resends only END, which
      // is ignored until the sink reports, instead of a window of DATA.
      ack(in);
      return;
  }
  FERRY_LINK_CHECK(false, "sink answered complete() with an unknown kind");
}

void Receiver::completed(const ObjectId& id, const crypto::Status& outcome, bool session_up) {
  FERRY_LINK_CHECK(!in_sink_complete_, "ObjectSink::complete reported its outcome from inside the engine");
  auto it = incoming_.find(id);
  if (it == incoming_.end() || !it->second.completing) {
    // No completion pending here: the engine that asked was replaced, or the
    // owner reports twice. A durable object is still worth remembering, so
    // that the sender hears DONE or DUPLICATE instead of sending it again.
    if (outcome.ok()) {
      forget(id);
      remember_done(id);
    }
    return;
  }
  const IncomingObject object = std::move(it->second.object);
  forget(id);
  if (outcome.ok()) {
    committed(object, session_up);
  } else {
    complete_failed(object, outcome.error().message, session_up);
  }
}

void Receiver::committed(const IncomingObject& object, bool session_up) {
  failures_.erase(object.id);
  remember_done(object.id);
  out_.counters().objects_received++;
  out_.emit(LinkEventKind::object_received, "received " + object_name(object), object.id);
  // Without a session the sender offers again on the next one and hears DUPLICATE.
  if (session_up) out_.send_sealed(FrameType::done, object.id, 0, {});
}

void Receiver::complete_failed(const IncomingObject& object, const std::string& why, bool session_up) {
  int& failures = failures_[object.id];
  if (failures == 0) {
    failures_order_.push_back(object.id);
    if (failures_order_.size() > kRecentDone) {
      failures_.erase(failures_order_.front());
      failures_order_.pop_front();
    }
  }
  ++failures;
  if (failures >= kMaxCompleteFailures) {
    const std::string text = "could not complete " + object_name(object) + " after " + std::to_string(failures) +
                             " attempts: " + why;
    failures_.erase(object.id);
    out_.counters().objects_rejected++;
    out_.emit(LinkEventKind::object_rejected, text, object.id);
    if (session_up) {
      out_.send_sealed(FrameType::reject, object.id, 0, encode(ReasonBody{reject_code::complete_failed, text}));
    } else if (rejects_owed_.size() < kRecentDone) {
      // Beyond the bound the sender merely gets more attempts.
      rejects_owed_.emplace(object.id, text);
    }
    return;
  }
  out_.emit(LinkEventKind::object_restarted,
            "could not complete " + object_name(object) + " (attempt " + std::to_string(failures) + "): " + why +
                "; restarting it from offset 0",
            object.id);
  // Without a session the sender offers again on the next one, and the sink,
  // having discarded the object, accepts it from 0.
  if (session_up) out_.send_sealed(FrameType::restart, object.id, 0, {});
}

void Receiver::ack(Incoming& in) {
  out_.send_sealed(FrameType::ack, in.object.id, in.received, {});
  in.ack_sent = in.received;
}

void Receiver::tick(TimePoint now) {
  for (auto& [id, in] : incoming_) {
    if (in.received > in.ack_sent && now >= in.last_activity + params_.retransmit_timeout / 4) ack(in);
  }
}

std::optional<TimePoint> Receiver::next_deadline() const {
  // An ACK owed goes out a quarter of the sender's timeout after the data came.
  std::optional<TimePoint> earliest;
  for (const auto& [id, in] : incoming_) {
    if (in.received <= in.ack_sent) continue;
    const TimePoint due = in.last_activity + params_.retransmit_timeout / 4;
    if (!earliest || due < *earliest) earliest = due;
  }
  return earliest;
}

}  // namespace ferry::link

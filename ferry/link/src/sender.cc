#include "ferry/link/src/sender.h"

#include <algorithm>

#include "ferry/link/messages.h"
#include "ferry/link/src/check.h"

namespace ferry::link {
namespace {

// Timeouts double up to 16 times retransmit_timeout (2^kMaxBackoff).
constexpr int kMaxBackoff = 4;
// Duplicate ACKs that make the sender resend the missing chunk at once.
constexpr int kDuplicateAckThreshold = 3;

}  // namespace

struct Sender::Outgoing {
  OutgoingObject object;
  Bytes offer;  // the OFFER body
  enum class Phase { offering, busy_wait, sending } phase = Phase::offering;
  bool offer_due = true;
  std::uint64_t acked = 0;    // the receiver holds [0, acked)
  std::uint64_t next = 0;     // next offset to send
  std::uint64_t highest = 0;  // highest offset sent since ACCEPT
  std::uint64_t recover = 0;  // no second fast retransmit before acked reaches this
  int duplicate_acks = 0;
  bool end_sent = false;
  int backoff = 0;
  bool armed = false;
  TimePoint deadline{};
  bool failed = false;
  // The answer (ACCEPT, BUSY, RESTART) this phase began with: answers the
  // receiver sent before it are late (reordered) and ignored.
  SendOrder phase_order{};
};

Sender::Sender(const LinkParams& params, ObjectSource* source, FrameOut& out)
    : params_(params), source_(source), out_(out) {}

Sender::~Sender() = default;

Sender::Outgoing* Sender::find(const ObjectId& id) {
  for (auto& o : objects_) {
    if (o->object.id == id) return o.get();
  }
  return nullptr;
}

std::chrono::milliseconds Sender::timeout(const Outgoing& o) const {
  return params_.retransmit_timeout * (1 << o.backoff);
}

void Sender::on_link_up() {
  for (auto& o : objects_) {
    o->phase = Outgoing::Phase::offering;
    o->offer_due = true;
    o->armed = false;
    o->backoff = 0;
  }
}

void Sender::on_link_down() {
  for (auto& o : objects_) {
    o->phase = Outgoing::Phase::offering;
    o->offer_due = true;
    o->armed = false;
  }
}

void Sender::admit() {
  if (source_ == nullptr) return;
  while (objects_.size() < params_.max_objects_in_flight) {
    std::uint64_t unacknowledged = 0;
    for (const auto& o : objects_) unacknowledged += o->object.size - o->acked;
    if (!objects_.empty() && unacknowledged >= params_.max_bytes_in_flight) return;
    std::optional<OutgoingObject> next = source_->next();
    if (!next) return;
    const OutgoingObject& obj = *next;
    std::string problem;
    if (obj.id.is_zero()) {
      problem = "object id is all zero";
    } else if (find(obj.id) != nullptr) {
      problem = "object id is already in flight";
    } else if (obj.channel.empty() || obj.channel.size() > kMaxChannelName || !is_valid_utf8(obj.channel)) {
      problem = "channel name must be 1.." + std::to_string(kMaxChannelName) + " bytes of UTF-8";
    } else if (obj.path.empty() || obj.path.size() > kMaxPath || !is_valid_utf8(obj.path)) {
      problem = "path must be 1.." + std::to_string(kMaxPath) + " bytes of UTF-8";
    }
    auto o = std::make_unique<Outgoing>();
    if (problem.empty()) {
      o->offer = encode(OfferBody{obj.size, obj.sm3, params_.policy_serial, obj.channel, obj.path});
      if (o->offer.size() + kFrameOverhead > params_.max_frame) {
        problem = "OFFER of " + std::to_string(o->offer.size()) + " bytes does not fit max_frame " +
                  std::to_string(params_.max_frame);
      }
    }
    if (!problem.empty()) {
      out_.counters().objects_rejected++;
      out_.emit(LinkEventKind::object_rejected, "not sent: " + problem, obj.id);
      source_->on_rejected(obj.id, reject_code::too_large_for_frame, problem);
      continue;
    }
    o->object = std::move(*next);
    objects_.push_back(std::move(o));
  }
}

void Sender::send_offer(Outgoing& o, TimePoint now) {
  out_.send_sealed(FrameType::offer, o.object.id, 0, o.offer);
  o.offer_due = false;
  o.armed = true;
  o.deadline = now + timeout(o);
}

bool Sender::send_chunk(Outgoing& o, std::uint64_t offset) {
  const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(params_.chunk_size, o.object.size - offset));
  chunk_.resize(len);
  crypto::Result<std::size_t> n = source_->read(o.object.id, offset, chunk_);
  if (!n.ok() || *n != len) {
    const std::string why = n.ok() ? "short read: " + std::to_string(*n) + " of " + std::to_string(len) + " bytes at offset " +
                                         std::to_string(offset)
                                   : n.error().message;
    out_.counters().objects_rejected++;
    out_.emit(LinkEventKind::object_rejected, "reading the object failed: " + why, o.object.id);
    source_->on_rejected(o.object.id, reject_code::source_read_failed, why);
    o.failed = true;
    return false;
  }
  if (offset < o.highest) out_.counters().data_retransmitted++;
  out_.send_sealed(FrameType::data, o.object.id, offset, chunk_);
  return true;
}

void Sender::send_end(Outgoing& o) {
  out_.send_sealed(FrameType::end, o.object.id, 0, encode(EndBody{o.object.size, o.object.sm3}));
  o.end_sent = true;
}

void Sender::pump(TimePoint now) {
  admit();
  for (auto& o : objects_) {
    if (o->phase == Outgoing::Phase::offering && o->offer_due) send_offer(*o, now);
  }
  // One chunk per object per round, so that small objects do not wait behind large ones.
  const std::uint64_t window_bytes = static_cast<std::uint64_t>(params_.window) * params_.chunk_size;
  // At most kChunksPerPump full chunks' worth of DATA per call (many more
  // frames when objects are small): sealing a whole window at
  // once would hold the caller's loop (and so the frames already sealed, and
  // the peer's ACKs) for tens of milliseconds, and the two sides would take
  // turns instead of working at once. more_to_send() tells the caller to call
  // again after it has let its I/O run.
  std::uint64_t budget = kChunksPerPump * params_.chunk_size;
  more_to_send_ = false;
  bool sent = true;
  while (sent) {
    sent = false;
    for (auto& op : objects_) {
      Outgoing& o = *op;
      if (o.failed || o.phase != Outgoing::Phase::sending) continue;
      if (o.next < o.object.size && o.next - o.acked < window_bytes) {
        if (budget == 0) {
          more_to_send_ = true;
          continue;
        }
        if (!send_chunk(o, o.next)) continue;
        budget -= std::min<std::uint64_t>(budget, std::min<std::uint64_t>(params_.chunk_size, o.object.size - o.next));
        o.next += std::min<std::uint64_t>(params_.chunk_size, o.object.size - o.next);
        o.highest = std::max(o.highest, o.next);
        sent = true;
      }
      if (o.next == o.object.size && !o.end_sent) send_end(o);
    }
  }
  std::erase_if(objects_, [](const auto& o) { return o->failed; });
}

void Sender::tick(TimePoint now) {
  for (auto& op : objects_) {
    Outgoing& o = *op;
    if (!o.armed || now < o.deadline) continue;
    out_.counters().timeouts++;
    switch (o.phase) {
      case Outgoing::Phase::offering:
        o.backoff = std::min(o.backoff + 1, kMaxBackoff);
        o.offer_due = true;
        break;
      case Outgoing::Phase::busy_wait:
        o.phase = Outgoing::Phase::offering;
        o.backoff = 0;
        o.offer_due = true;
        break;
      case Outgoing::Phase::sending:
        o.backoff = std::min(o.backoff + 1, kMaxBackoff);
        // Go back to what the receiver acknowledged; END follows the data again.
        o.next = o.acked;
        o.end_sent = false;
        o.duplicate_acks = 0;
        o.recover = o.highest;
        o.deadline = now + timeout(o);
        break;
    }
  }
  pump(now);
}

void Sender::finish(const ObjectId& id) {
  std::erase_if(objects_, [&](const auto& o) { return o->object.id == id; });
}

void Sender::on_frame(const FrameHeader& h, ByteView body, SendOrder order, TimePoint now) {
  Outgoing* o = find(h.object);
  if (o == nullptr) {
    // About an object that is already done or was never ours: a late
    // answer to a retransmission. Nothing to do.
    out_.counters().dropped.unexpected++;
    return;
  }
  const bool final_answer = h.type == FrameType::done || h.type == FrameType::duplicate || h.type == FrameType::reject;
  if (!final_answer && order < o->phase_order) {
    // Sent before the answer that began this phase (e.g. an ACK of an
    // earlier attempt, reordered behind a RESTART): acting on it could skip
    // bytes the receiver no longer holds.
    out_.counters().dropped.unexpected++;
    return;
  }
  switch (h.type) {
    case FrameType::accept:
      if (o->phase == Outgoing::Phase::sending) return;  // late answer to an earlier OFFER
      if (h.offset > o->object.size) {
        out_.counters().dropped.unexpected++;
        return;
      }
      o->phase_order = order;
      o->phase = Outgoing::Phase::sending;
      o->acked = o->next = o->highest = o->recover = h.offset;
      o->end_sent = false;
      o->duplicate_acks = 0;
      o->backoff = 0;
      o->armed = true;
      o->deadline = now + timeout(*o);
      return;
    case FrameType::duplicate:
    case FrameType::done: {
      const ObjectId id = o->object.id;
      out_.counters().objects_sent++;
      out_.emit(LinkEventKind::object_sent,
                (h.type == FrameType::done ? "delivered: " : "already delivered: ") + o->object.channel + "/" +
                    o->object.path,
                id);
      finish(id);
      source_->on_done(id);
      return;
    }
    case FrameType::busy:
      o->phase_order = order;
      o->phase = Outgoing::Phase::busy_wait;
      o->backoff = 0;
      o->armed = true;
      o->deadline = now + params_.busy_retry;
      return;
    case FrameType::reject: {
      Decoded<ReasonBody> reason = decode_reason(body);
      ReasonBody r = reason.ok() ? reason.value() : ReasonBody{0, "(unreadable reason)"};
      if (!reason.ok()) {
        out_.count_malformed(DecodeError::bad_body);
      }
      const ObjectId id = o->object.id;
      out_.counters().objects_rejected++;
      out_.emit(LinkEventKind::object_rejected,
                "peer rejected " + o->object.channel + "/" + o->object.path + " (code " + std::to_string(r.code) +
                    "): " + r.text,
                id);
      finish(id);
      source_->on_rejected(id, r.code, r.text);
      return;
    }
    case FrameType::restart:
      if (o->phase != Outgoing::Phase::sending) return;
      o->phase_order = order;
      o->phase = Outgoing::Phase::offering;
      o->offer_due = true;
      o->backoff = 0;
      o->armed = false;
      return;
    case FrameType::ack: {
      if (o->phase != Outgoing::Phase::sending) return;
      const std::uint64_t a = h.offset;
      if (a > o->highest) {
        // Acknowledges bytes never sent: not an answer of a correct receiver.
        out_.counters().dropped.unexpected++;
        return;
      }
      if (a > o->acked) {
        o->acked = a;
        o->next = std::max(o->next, a);
        o->duplicate_acks = 0;
        o->backoff = 0;
        o->deadline = now + timeout(*o);
      } else if (a == o->acked && o->acked < o->highest) {
        // The receiver is missing the chunk at `acked` (RFC 5681 §3.2 fast retransmit).
        if (++o->duplicate_acks == kDuplicateAckThreshold && o->acked >= o->recover) {
          if (send_chunk(*o, o->acked)) {
            o->recover = o->highest;
          } else {
            std::erase_if(objects_, [](const auto& x) { return x->failed; });
          }
        }
      }
      return;
    }
    default:
      FERRY_LINK_CHECK(false, "sender handed a frame type it does not handle");
  }
}

std::optional<TimePoint> Sender::next_deadline() const {
  std::optional<TimePoint> earliest;
  for (const auto& o : objects_) {
    if (o->armed && (!earliest || o->deadline < *earliest)) earliest = o->deadline;
  }
  return earliest;
}

}  // namespace ferry::link

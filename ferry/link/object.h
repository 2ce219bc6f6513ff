// What the engine asks of the daemon: on the sending side an ObjectSource
// (the spool's outgoing queue), on the receiving side an ObjectSink (the
// spool's partial files and its exactly-once store of delivered ids). Each
// engine has both, since both directions run at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm3.h"
#include "ferry/link/object_id.h"

namespace ferry::link {

struct OutgoingObject {
  ObjectId id;
  std::string channel;  // 1..255 bytes of UTF-8
  std::string path;     // relative, '/'-separated, 1..4096 bytes of UTF-8
  std::uint64_t size = 0;
  crypto::Sm3Digest sm3{};
};

struct IncomingObject {
  ObjectId id;
  std::string channel;
  std::string path;
  std::uint64_t size = 0;
  crypto::Sm3Digest sm3{};
  std::uint64_t sender_policy_serial = 0;
};

// Reason codes of REJECT (and of ObjectSource::on_rejected). 1..99 belong to
// the link; the daemon's sink uses 100 and up for its own reasons (policy).
namespace reject_code {
inline constexpr std::uint16_t malformed_offer = 1;     // the OFFER did not parse
inline constexpr std::uint16_t bad_end = 2;             // END disagrees with the OFFER
inline constexpr std::uint16_t complete_failed = 3;     // the sink could not verify or commit, after retries
inline constexpr std::uint16_t id_reused = 4;           // same id offered with other metadata
inline constexpr std::uint16_t source_read_failed = 5;  // local: ObjectSource::read failed
inline constexpr std::uint16_t too_large_for_frame = 6; // local: channel or path does not fit an OFFER frame
inline constexpr std::uint16_t first_daemon_code = 100;
}  // namespace reject_code

struct OfferAnswer {
  enum class Kind { accept, duplicate, busy, reject };
  Kind kind = Kind::busy;
  std::uint64_t resume_offset = 0;  // accept: bytes the sink already holds for this id
  std::uint16_t code = 0;           // reject
  std::string text;                 // reject

  static OfferAnswer accept(std::uint64_t resume_offset) { return {Kind::accept, resume_offset, 0, {}}; }
  static OfferAnswer duplicate() { return {Kind::duplicate, 0, 0, {}}; }
  static OfferAnswer busy() { return {Kind::busy, 0, 0, {}}; }
  static OfferAnswer reject(std::uint16_t code, std::string text) { return {Kind::reject, 0, code, std::move(text)}; }
};

// What ObjectSink::complete did with an object whose bytes are all written.
struct CompleteAnswer {
  enum class Kind {
    committed,  // durable now: the engine acknowledges DONE
    pending,    // the sink commits later (group commit) and then calls LinkEngine::completed
    failed,     // verify or commit failed; the sink discarded what it held of the object
  };
  Kind kind;
  std::string text;  // failed: why

  static CompleteAnswer committed() { return CompleteAnswer(Kind::committed, {}); }
  static CompleteAnswer pending() { return CompleteAnswer(Kind::pending, {}); }
  static CompleteAnswer failed(std::string why) { return CompleteAnswer(Kind::failed, std::move(why)); }

 private:
  // No default answer: a `return {};` left from when complete() returned a
  // Status must not compile into a silent failure or success.
  CompleteAnswer(Kind k, std::string t) : kind(k), text(std::move(t)) {}
};

// The sending side's queue. Called only from within LinkEngine's calls.
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // The next object to send, or nullopt if there is none now. The engine asks
  // whenever it has room for another object in flight; an object it took is
  // its own until on_done or on_rejected, across disconnects and rekeys.
  virtual std::optional<OutgoingObject> next() = 0;
  // Exactly out.size() bytes at offset (the engine never asks past the
  // size). Anything else is a failure: the engine gives the object up
  // locally with on_rejected(reject_code::source_read_failed).
  virtual crypto::Result<std::size_t> read(const ObjectId& id, std::uint64_t offset, crypto::MutableByteView out) = 0;
  // The peer holds the object durably (it committed it now or before).
  virtual void on_done(const ObjectId& id) = 0;
  // The peer (or the engine, for local codes) refused the object for good.
  virtual void on_rejected(const ObjectId& id, std::uint16_t code, std::string_view text) = 0;
};

// The receiving side's store. Called only from within LinkEngine's calls.
class ObjectSink {
 public:
  virtual ~ObjectSink() = default;
  // A new offer (the engine holds no state for this id). accept(resume):
  // `resume` is exactly what the sink holds of the object: every byte
  // written and not discarded (0 for a new object; after a crash, what
  // survived on disk); the first write() will be at that offset. duplicate: already delivered (the exactly-once store).
  // busy: below the free-space watermark, ask again later. reject: refused
  // for good with a reason code (>= reject_code::first_daemon_code) and text.
  virtual OfferAnswer offer(const IncomingObject& object) = 0;
  // Contiguous appends: each write starts where the previous one ended. An
  // error (e.g. disk full) makes the engine forget the transfer and answer
  // BUSY; the sender offers again later and offer() says where to resume.
  virtual crypto::Status write(const ObjectId& id, std::uint64_t offset, crypto::ByteView data) = 0;
  // All `total` bytes were written: verify size and SM3 against the offer,
  // commit (fsync, rename) and record the id as delivered. The engine
  // acknowledges DONE only once the object is durable:
  // committed: it is durable now.
  // pending: the sink commits later, e.g. many objects under one fsync, and
  //   then calls LinkEngine::completed(id, outcome) from outside the engine's
  //   calls, exactly once. Until then the engine holds the object (across
  //   disconnects and rekeys), never calls complete() for it again, and
  //   answers the peer's retransmissions by waiting for that call.
  // failed: the sink must discard what it holds of the object: the engine
  //   restarts the transfer from offset 0 (the sender offers again), and after
  //   three failures of the same id answers REJECT (reject_code::complete_failed).
  //   A pending completion that ends in an error counts the same.
  virtual CompleteAnswer complete(const ObjectId& id, std::uint64_t total, const crypto::Sm3Digest& sm3) = 0;
};

}  // namespace ferry::link

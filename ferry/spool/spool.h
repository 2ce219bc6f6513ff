// The spool: one side's durable queue of exchange objects, modelled on
// Postfix's queue. Each state is a directory; each object is two files in
// the directory of its state:
//
//   <spool>/<state>/<id>.data   the bytes
//   <spool>/<state>/<id>.rec    its ObjectRecord (object_record.h)
//
// States: incoming, outgoing, partial, received, done, quarantine (see
// State), plus tmp/ (files being written) and delivered-ids/ (DeliveredIds).
// A state change is a rename between directories; nothing is ever rewritten
// in place. <spool>/lock is held with flock(2) while a Spool is open, so two
// daemons can never share a spool.
//
// Crash safety. The record is the commit point and its revision decides:
//
//  * create: data -> tmp/<id>.data (fsync), record -> tmp/<id>.rec (fsync),
//    rename data into the state, rename the record into the state (commit),
//    fsync the state directory.
//  * move(from, to): record with revision+1 -> tmp (fsync), rename it to
//    to/<id>.rec (commit), rename from/<id>.data -> to/<id>.data, fsync `to`,
//    unlink from/<id>.rec, fsync `from`.
//    Record first, because a record never loses its data: a crash at any
//    point leaves the new record, the old one, or both, and the data in one
//    of the two directories. No ordering between the two renames is needed,
//    which is why one fsync of `to` covers both.
//  * update: new record (revision+1) via tmp, renamed over the old one,
//    fsync the directory.
//  * discard: unlink the record (the object is gone), fsync, unlink the data.
//
// recover() resolves any crash leftover with three rules:
//  1. Among an object's records the highest revision wins; the others are
//     removed. Its data is moved to the winner's directory (from another
//     state or from tmp/), extra copies removed.
//  2. Data with no record anywhere was never committed: removed.
//  3. A record with no data: in partial/ an empty data file is made (the
//     transfer resumes from 0); elsewhere the record is set aside in
//     quarantine/ as <id>.<state>.rec.nodata for an operator.
// Everything else in tmp/ is removed. A record that does not decode, or names
// another id or state than its place, is set aside in quarantine/ as
// <id>.<state>.rec.unreadable (with its data, when no other record claims
// it). Names of the form *.unreadable / *.nodata are never listed as objects.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm3.h"
#include "ferry/spool/clock.h"
#include "ferry/spool/object_id.h"
#include "ferry/spool/object_record.h"

namespace ferry::spool {

using crypto::ByteView;
using crypto::Result;
using crypto::Status;

// Changes a record during move() or update(). It must not change id,
// revision, state, created_ms or updated_ms; the spool sets those.
using RecordUpdate = std::function<void(ObjectRecord&)>;

struct RecoveryReport {
  std::map<State, std::size_t> objects;  // per state, after recovery
  std::size_t tmp_removed = 0;           // leftovers in tmp/
  std::size_t uncommitted_removed = 0;   // data files with no record (crash during create)
  std::size_t moves_finished = 0;        // data moved to its record's directory
  std::size_t stale_removed = 0;         // older records and extra data copies
  std::size_t records_without_data = 0;  // rule 3 above
  std::size_t unreadable = 0;            // records set aside as *.unreadable
  std::size_t foreign = 0;               // names we did not make, left alone
};

// Threads: calls about different objects may run on two threads at once
// (the daemon ingests on one while its loop sends and receives on the other),
// except the partial-object calls (open_partial .. complete_partial, and
// move/update/discard of partial objects), which belong to one thread.
class Spool {
 public:
  // Creates `dir` (one level) and its state directories (0700) when missing,
  // refuses symlinked state directories, and takes the spool lock
  // (Errc::io "... in use" when another process holds it).
  static Result<Spool> open(const std::string& dir, Clock clock = system_clock_ms);

  Spool(Spool&&) noexcept;
  Spool& operator=(Spool&&) noexcept;
  ~Spool();

  const std::string& dir() const;
  std::string state_dir(State state) const;
  std::string data_path(const ObjectId& id, State state) const;
  std::string record_path(const ObjectId& id, State state) const;
  std::string delivered_ids_dir() const;
  std::int64_t now_ms() const;

  // Start-up: resolves what a crash left behind (rules above). Call before
  // anything else; partial files must not be open.
  Result<RecoveryReport> recover();

  // A new object in `state`, copied from `source_fd` (read from its current
  // offset to the end). The record's id must be new; size, sm3, state,
  // revision (1) and timestamps are filled in here.
  Result<ObjectRecord> create(int source_fd, ObjectRecord record, State state);
  Result<ObjectRecord> create_from_file(const std::string& source_path, ObjectRecord record, State state);

  Result<ObjectRecord> read(const ObjectId& id, State state) const;
  // Objects in `state`, oldest first (created_ms, then id).
  Result<std::vector<ObjectRecord>> list(State state) const;
  // Where the object is, if anywhere.
  Result<std::optional<State>> find(const ObjectId& id) const;

  Result<ObjectRecord> move(const ObjectId& id, State from, State to, const RecordUpdate& update = {});
  Result<ObjectRecord> update(const ObjectId& id, State state, const RecordUpdate& update);
  Status discard(const ObjectId& id, State state);

  // Group commit (ferry/fs/sync_barrier.h). The batch forms of create() and
  // move() take the same steps with the same crash rules for many objects,
  // but pay one durability barrier per step instead of fsyncs per object:
  //
  //  * create_batch: every data file and record written to tmp/, barrier;
  //    each renamed into its state, barrier (the commit).
  //  * move_batch: every new record revision written to tmp/, barrier; each
  //    committed by its rename into `to` and its data moved, barrier; then
  //    the old records unlinked without waiting (a crash that keeps one is
  //    resolved by recovery rule 1: the highest revision wins).
  //
  // Each object gets its own result. When a barrier fails nothing can be said
  // about the disk: every object of the batch fails, and create_batch removes
  // what it had put in place, so a failure means "not taken".
  struct NewObject {
    ObjectRecord record;
    State state = State::incoming;
    int source_fd = -1;  // read from its current offset to the end; or, when < 0,
    ByteView bytes;      // these bytes (a small object received into memory)
  };
  std::vector<Result<ObjectRecord>> create_batch(const std::vector<NewObject>& objects);

  struct Move {
    ObjectId id;
    State from = State::incoming;
    State to = State::outgoing;
    RecordUpdate update;
  };
  std::vector<Result<ObjectRecord>> move_batch(const std::vector<Move>& moves);

  // Removes a finished object without waiting for the disk. After a crash it
  // may be back; use it only where a second pass is harmless: an object the
  // peer holds (offered again, it is answered DUPLICATE), or one whose
  // delivery is durable and whose id is remembered.
  Status forget(const ObjectId& id, State state);

  // Receiving side. open_partial creates partial/<id> from `record` (channel,
  // path, declared size, peer serial; the rest is filled in) or reopens the
  // one already there, and returns the resume offset. It refuses an id that
  // is already in another state (a duplicate) or a partial whose channel,
  // path or declared size differ (discard it and start again).
  Result<std::uint64_t> open_partial(const ObjectRecord& record);
  // Bytes durable so far: the file is fsynced before its size is reported.
  // Writes never leave a gap, so this is also the contiguous prefix.
  Result<std::uint64_t> partial_size(const ObjectId& id);
  // `offset` must not be past the bytes written so far (no gaps) and the
  // write must not go past the declared size; rewriting bytes already there
  // (a retransmission) is allowed.
  Status write_partial(const ObjectId& id, std::uint64_t offset, ByteView bytes);
  // Re-reads the file, checks its size and SM3 (Errc::verify_failed on a
  // mismatch; the partial stays for the caller to discard), fsyncs, and moves
  // it to received with size and sm3 in the record.
  Result<ObjectRecord> complete_partial(const ObjectId& id, std::uint64_t size, const crypto::Sm3Digest& sm3);

 private:
  struct Impl;
  explicit Spool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::spool

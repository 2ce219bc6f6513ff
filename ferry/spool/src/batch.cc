// Group commit: create_batch, move_batch and forget (spool.h). The steps are
// those of create() and move() in spool.cc, phase by phase for the whole
// batch, with a SyncBarrier where the single-object forms fsync.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_set>

#include "ferry/fs/sync_barrier.h"
#include "ferry/spool/spool.h"
#include "ferry/spool/src/spool_impl.h"

namespace ferry::spool {

using crypto::Errc;
using crypto::make_error;
using internal::Fd;
using internal::io_error;

namespace {

crypto::Error batch_failed(const crypto::Error& why) {
  return make_error(why.code, "not committed: the batch's sync failed: " + why.message);
}

// One batch never holds an object twice: both entries would share their temp
// files and the second would overwrite what the first reported. The second
// (and any later) entry fails; the first goes ahead.
crypto::Error twice(const ObjectId& id) {
  return make_error(Errc::invalid_argument, "object " + id.hex() + " appears more than once in one batch");
}

// The barrier over a batch's new record revisions in tmp/; if it fails,
// they are removed and every one fails.
Status commit_new_revisions(fs::SyncBarrier& barrier, const std::vector<std::pair<std::size_t, std::string>>& written,
                            std::vector<Result<ObjectRecord>>& out) {
  Status s = barrier.commit();
  if (!s.ok()) {
    for (const auto& [i, tmp] : written) {
      ::unlink(tmp.c_str());
      out[i] = batch_failed(s.error());
    }
  }
  return s;
}

}  // namespace

std::vector<Result<ObjectRecord>> Spool::create_batch(const std::vector<NewObject>& objects) {
  std::vector<Result<ObjectRecord>> out;
  out.reserve(objects.size());
  struct Written {
    std::size_t index;
    std::string tmp_data, tmp_rec;
  };
  std::vector<Written> written;
  fs::SyncBarrier barrier;
  std::unordered_set<ObjectId> seen;

  // Phase 1: data and record of every object into tmp/.
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const NewObject& o = objects[i];
    if (!seen.insert(o.record.id).second) {
      out.emplace_back(twice(o.record.id));
      continue;
    }
    ObjectRecord record = o.record;
    record.state = o.state;
    record.revision = 1;
    record.created_ms = record.updated_ms = impl_->clock();
    if (Status s = validate_record(record); !s.ok()) {
      out.emplace_back(s.error());
      continue;
    }
    Result<std::optional<State>> existing = find(record.id);
    if (!existing.ok()) {
      out.emplace_back(existing.error());
      continue;
    }
    if (*existing) {
      out.emplace_back(make_error(Errc::invalid_argument, "object " + record.id.hex() + " already exists in " +
                                                              std::string(state_name(**existing))));
      continue;
    }
    const std::string tmp_data = impl_->tmp_data_path(record.id);
    Result<Fd> opened = impl_->open_tmp(tmp_data);
    if (!opened.ok()) {
      out.emplace_back(opened.error());
      continue;
    }
    Fd data = std::move(*opened);
    Result<internal::Digested> copied = internal::Digested{};
    if (o.source_fd >= 0) {
      copied = internal::copy_and_hash(o.source_fd, data.get(), "source of " + record.id.hex(), tmp_data);
    } else if (Status s = internal::write_all(data.get(), o.bytes, tmp_data); s.ok()) {
      copied = internal::Digested{o.bytes.size(), crypto::Sm3::digest(o.bytes)};
    } else {
      copied = s.error();
    }
    if (copied.ok() && ::ftruncate(data.get(), static_cast<off_t>(copied->size)) != 0) copied = io_error(tmp_data, errno);
    if (!copied.ok()) {
      ::unlink(tmp_data.c_str());
      out.emplace_back(copied.error());
      continue;
    }
    record.size = copied->size;
    record.sm3 = copied->sm3;
    Result<std::string> tmp_rec = impl_->write_record_tmp(record, &barrier);
    if (!tmp_rec.ok()) {
      ::unlink(tmp_data.c_str());
      out.emplace_back(tmp_rec.error());
      continue;
    }
    barrier.file(std::move(data), tmp_data);
    written.push_back({i, tmp_data, *tmp_rec});
    out.emplace_back(std::move(record));
  }
  auto fail_all = [&](const crypto::Error& why) {
    for (const Written& w : written) {
      if (out[w.index].ok()) out[w.index] = batch_failed(why);
    }
  };
  if (Status s = barrier.commit(); !s.ok()) {
    for (const Written& w : written) {
      ::unlink(w.tmp_data.c_str());
      ::unlink(w.tmp_rec.c_str());
    }
    fail_all(s.error());
    return out;
  }

  // Phase 2: data, then record (the commit) into the state; one barrier.
  std::vector<std::size_t> placed;
  for (const Written& w : written) {
    const ObjectRecord& record = *out[w.index];
    const std::string data = impl_->data_path(record.id, record.state);
    const std::string rec = impl_->record_path(record.id, record.state);
    if (::rename(w.tmp_data.c_str(), data.c_str()) != 0) {
      const int err = errno;
      ::unlink(w.tmp_data.c_str());
      ::unlink(w.tmp_rec.c_str());
      out[w.index] = io_error(data, err);
      continue;
    }
    if (::rename(w.tmp_rec.c_str(), rec.c_str()) != 0) {
      const int err = errno;
      ::unlink(data.c_str());
      ::unlink(w.tmp_rec.c_str());
      out[w.index] = io_error(rec, err);
      continue;
    }
    barrier.directory(impl_->state_dir(record.state));
    placed.push_back(w.index);
  }
  if (Status s = barrier.commit(); !s.ok()) {
    // Undo, so that "failed" means "not taken" (the caller gives the source
    // back); what a crash keeps of these is resolved by recovery.
    for (std::size_t i : placed) {
      const ObjectRecord& record = *out[i];
      ::unlink(impl_->record_path(record.id, record.state).c_str());
      ::unlink(impl_->data_path(record.id, record.state).c_str());
      out[i] = batch_failed(s.error());
    }
  }
  return out;
}

std::vector<Result<ObjectRecord>> Spool::move_batch(const std::vector<Move>& moves) {
  std::vector<Result<ObjectRecord>> out;
  out.reserve(moves.size());
  std::vector<std::pair<std::size_t, std::string>> written;  // index, tmp record
  fs::SyncBarrier barrier;
  std::unordered_set<ObjectId> seen;

  // Phase 1: every new revision into tmp/.
  for (std::size_t i = 0; i < moves.size(); ++i) {
    const Move& m = moves[i];
    assert(m.from != m.to);
    if (!seen.insert(m.id).second) {
      out.emplace_back(twice(m.id));
      continue;
    }
    Result<ObjectRecord> old = impl_->read_record(m.id, m.from);
    if (!old.ok()) {
      out.emplace_back(old.error());
      continue;
    }
    const std::string from_data = impl_->data_path(m.id, m.from);
    struct stat st;
    if (::lstat(from_data.c_str(), &st) != 0) {
      out.emplace_back(io_error(from_data, errno));
      continue;
    }
    Result<ObjectRecord> next = impl_->next_revision(*old, m.to, m.update);
    if (!next.ok()) {
      out.emplace_back(next.error());
      continue;
    }
    Result<std::string> tmp_rec = impl_->write_record_tmp(*next, &barrier);
    if (!tmp_rec.ok()) {
      out.emplace_back(tmp_rec.error());
      continue;
    }
    written.emplace_back(i, *tmp_rec);
    out.emplace_back(std::move(next));
  }
  if (Status s = commit_new_revisions(barrier, written, out); !s.ok()) return out;

  // Phase 2: commit each by its record's rename, move its data; one barrier
  // over the destination directories.
  std::vector<std::size_t> moved;
  for (const auto& [i, tmp] : written) {
    const Move& m = moves[i];
    const std::string to_rec = impl_->record_path(m.id, m.to);
    const std::string to_data = impl_->data_path(m.id, m.to);
    if (::rename(tmp.c_str(), to_rec.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      out[i] = io_error(to_rec, err);
      continue;
    }
    if (::rename(impl_->data_path(m.id, m.from).c_str(), to_data.c_str()) != 0) {
      const int err = errno;
      ::unlink(to_rec.c_str());
      out[i] = io_error(to_data, err);
      continue;
    }
    if (m.from == State::partial) impl_->partials.erase(m.id);
    barrier.directory(impl_->state_dir(m.to));
    moved.push_back(i);
  }
  if (Status s = barrier.commit(); !s.ok()) {
    // The renames happened; only their durability is unknown. The objects
    // are in `to` as far as this process can tell, and a crash leaves them
    // to recovery; report the batch as failed so the caller does not act on
    // a commit it cannot rely on.
    for (std::size_t i : moved) out[i] = batch_failed(s.error());
    return out;
  }

  // Phase 3: the old records go; no barrier (recovery rule 1).
  for (std::size_t i : moved) {
    const Move& m = moves[i];
    impl_->recycle(impl_->record_path(m.id, m.from));
  }
  return out;
}

Status Spool::forget(const ObjectId& id, State state) {
  const std::string rec = impl_->record_path(id, state);
  struct stat st;
  if (::lstat(rec.c_str(), &st) != 0) return io_error(rec, errno);
  // The record first: once it is gone the object is, whatever the data does.
  impl_->recycle(rec);
  if (state == State::partial) impl_->partials.erase(id);
  impl_->recycle(impl_->data_path(id, state));
  return {};
}

}  // namespace ferry::spool

// Spool's private state, shared by spool.cc, partial.cc and recovery.cc.
#pragma once

#include <string>
#include <unordered_map>

#include "ferry/fs/sync_barrier.h"
#include "ferry/spool/spool.h"
#include "ferry/spool/src/posix.h"

namespace ferry::spool {

// An open partial object: its data file stays open between chunks.
struct PartialFile {
  internal::Fd fd;
  ObjectRecord record;
  std::uint64_t size = 0;  // bytes written so far (no gaps)
};

struct Spool::Impl {
  std::string dir;
  Clock clock;
  internal::Fd lock;
  std::unordered_map<ObjectId, PartialFile> partials;

  std::string state_dir(State state) const { return dir + "/" + std::string(state_name(state)); }
  std::string tmp_dir() const { return dir + "/tmp"; }
  std::string data_path(const ObjectId& id, State state) const { return state_dir(state) + "/" + id.hex() + ".data"; }
  std::string record_path(const ObjectId& id, State state) const { return state_dir(state) + "/" + id.hex() + ".rec"; }
  std::string tmp_record_path(const ObjectId& id) const { return tmp_dir() + "/" + id.hex() + ".rec"; }
  std::string tmp_data_path(const ObjectId& id) const { return tmp_dir() + "/" + id.hex() + ".data"; }

  // Encodes `record` into tmp/<id>.rec and fsyncs it, or with `defer` hands
  // the file to that barrier instead; returns the path.
  Result<std::string> write_record_tmp(const ObjectRecord& record, fs::SyncBarrier* defer = nullptr) const;
  // Reads and checks state/<id>.rec: it must decode and name this id and state.
  Result<ObjectRecord> read_record(const ObjectId& id, State state) const;
  // A record's new revision: `update` applied, then the spool's fields.
  Result<ObjectRecord> next_revision(const ObjectRecord& old, State state, const RecordUpdate& update) const;
  // The cached partial file, opened from disk when not yet open.
  Result<PartialFile*> partial(const ObjectId& id);
};

// "<32 hex>.<suffix>" -> the id; nullopt for any other name.
std::optional<ObjectId> id_of_name(std::string_view name, std::string_view suffix);

}  // namespace ferry::spool

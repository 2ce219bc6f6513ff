// Spool's private state, shared by spool.cc, partial.cc and recovery.cc.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ferry/fs/sync_barrier.h"
#include "ferry/spool/spool.h"
#include "ferry/spool/src/posix.h"

namespace ferry::spool {

// An open partial object: its data file stays open between chunks.
struct PartialFile {
  internal::Fd fd;
  ObjectRecord record;
  std::uint64_t size = 0;  // bytes written so far (no gaps)
  // SM3 of [0, size) as written, so that completing a large object costs no
  // second read of it. A rewrite of bytes already there (a retransmission)
  // could differ from what was hashed: then hashed_ok is false and
  // complete_partial reads the file.
  crypto::Sm3 sm3;
  bool hashed_ok = true;
  // Writeback is started every internal::kWritebackStride bytes.
  std::uint64_t writeback_from = 0;
};

struct Spool::Impl {
  std::string dir;
  Clock clock;
  internal::Fd lock;
  std::unordered_map<ObjectId, PartialFile> partials;
  // Recycled inodes: files the spool is done with (old records, sent data),
  // kept in tmp/ as spare.<n> and renamed into place as the next temp file
  // instead of creating one. Why: ext4 without a journal will not reuse an
  // inode freed in the last 60 to 360 s (fs/ext4/ialloc.c, recently_deleted)
  // and scans past every such inode on each create, so a queue that creates
  // and deletes files per object pays more per create the faster it runs; on
  // this project's VMs that scan was most of a side's CPU. A rename allocates
  // nothing. Spares are plain leftovers in tmp/: recovery removes them.
  std::vector<std::string> spares;  // guarded by spares_mutex
  std::uint64_t spare_serial = 0;   // guarded by spares_mutex
  std::mutex spares_mutex;
  static constexpr std::size_t kMaxSpares = 4096;

  std::string state_dir(State state) const { return dir + "/" + std::string(state_name(state)); }
  std::string tmp_dir() const { return dir + "/tmp"; }
  std::string data_path(const ObjectId& id, State state) const { return state_dir(state) + "/" + id.hex() + ".data"; }
  std::string record_path(const ObjectId& id, State state) const { return state_dir(state) + "/" + id.hex() + ".rec"; }
  std::string tmp_record_path(const ObjectId& id) const { return tmp_dir() + "/" + id.hex() + ".rec"; }
  std::string tmp_data_path(const ObjectId& id) const { return tmp_dir() + "/" + id.hex() + ".data"; }

  // Encodes `record` into tmp/<id>.rec and fsyncs it, or with `defer` hands
  // the file to that barrier instead; returns the path.
  Result<std::string> write_record_tmp(const ObjectRecord& record, fs::SyncBarrier* defer = nullptr);
  // Opens `path` (in tmp/) for writing at offset 0: a spare renamed there, or
  // a new file when there is none. A spare keeps its old bytes until
  // overwritten: the caller ftruncate()s to what it wrote.
  Result<internal::Fd> open_tmp(const std::string& path);
  // The spool is done with `path`: kept as a spare when it is a plain file
  // with no other link (a delivered file shares the received data's inode and
  // is never touched), else unlinked. Errors are ignored: at worst a file
  // stays behind in tmp/ until the next start.
  void recycle(const std::string& path);

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

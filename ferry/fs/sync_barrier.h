// Group commit: one durability barrier for many files and directories.
//
// A queue that fsyncs every file and directory it touches pays one device
// flush per call; on the VM disks ferry runs on that caps a side at a few
// hundred objects a second. A SyncBarrier collects what must be durable
// before the next step (data files written, directories whose entries
// changed) and makes it durable at once in commit():
//
//  * a few items: fsync(2) each, which writes only those inodes;
//  * more than kFsyncEachLimit: syncfs(2) once per file system they are on.
//    syncfs writes back every dirty inode and buffer of that file system and
//    flushes the device cache once, and (Linux >= 5.8) reports a writeback
//    error that happened since the descriptor was opened, as fsync does. It
//    also writes other dirty data of that file system, which is why small
//    batches use fsync.
//
// Correctness rests on the caller's ordering: what must be durable before a
// rename is committed by one barrier, the rename goes into the next. The
// barrier never reorders; it only makes everything added so far durable.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "crypto/result.h"
#include "ferry/fs/fd.h"

namespace ferry::fs {

class SyncBarrier {
 public:
  static constexpr std::size_t kFsyncEachLimit = 8;

  // A file whose contents must be durable (the barrier keeps it open).
  void file(Fd fd, std::string what);
  // A directory whose entries changed (renames, links, unlinks into it).
  void directory(const std::string& path);
  bool empty() const { return files_.empty() && directories_.empty(); }
  std::size_t size() const { return files_.size() + directories_.size(); }

  // Makes everything added durable and empties the barrier. On error nothing
  // can be said about what reached the disk; the caller undoes or retries.
  crypto::Status commit();

 private:
  struct File {
    Fd fd;
    std::string what;
  };
  std::vector<File> files_;
  std::set<std::string> directories_;
};

}  // namespace ferry::fs

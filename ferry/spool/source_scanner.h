// Ingest from a channel's source directory: find files that are complete,
// then take each exactly once into the spool.
//
// A file is a candidate when it is a regular file (symlinks, devices, fifos
// and sockets are skipped, and symlinked directories are not entered), its
// name and the names of the directories above it do not start with '.', its
// name does not end in ".part" or ".tmp" (the usual in-progress names), and
// its size, mtime and inode have not changed across scans for the settle
// period. Observations are kept in memory between scans.
//
// take() is an exactly-once claim, in three durable steps:
//  1. rename the file into a fresh claim directory beside it,
//     <dir>/.ferry-claim.<id>/<name>, and fsync both directories. A claim
//     directory rather than a claim file name, because a 255-byte name plus
//     the 46 bytes of prefix and id would not fit, and the full original
//     name is needed if the claim must be re-taken after a crash;
//  2. copy it into the spool (incoming, or quarantine with reason
//     name.invalid when check_relative_name refuses the path: the bytes are
//     still taken, so they never cross and never stay behind);
//  3. unlink the claimed file and the claim directory, fsync the directory.
// recover_claims() runs at start-up after Spool::recover(): a claim whose id
// is in the spool is removed (step 3 was cut short); one whose id is not is
// taken again under the same id (step 2 was cut short); an empty claim
// directory (step 1 was cut short) is removed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "crypto/result.h"
#include "ferry/spool/object_record.h"
#include "ferry/spool/spool.h"

namespace ferry::spool {

inline constexpr std::string_view kClaimPrefix = ".ferry-claim.";

struct Candidate {
  std::string relative_path;  // '/'-separated, raw bytes as on disk
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const Candidate&) const = default;
};

struct ClaimRecovery {
  std::size_t released = 0;       // already in the spool: the claimed source file removed
  std::size_t retaken = 0;        // not in the spool: taken again under its id
  std::size_t empty_removed = 0;  // empty claim directories removed
  std::size_t returned = 0;       // not a regular file: put back under its name
  std::size_t left = 0;           // not as we make them: left alone, see problems()
};

class SourceScanner {
 public:
  static constexpr int kMaxDepth = 128;

  SourceScanner(std::string channel, std::string source_dir, std::chrono::milliseconds settle);

  const std::string& channel() const { return channel_; }
  const std::string& source_dir() const { return source_dir_; }

  // Walks the tree and returns the files that have settled, sorted by path.
  // An unreadable or too deep subdirectory does not stop the scan; it is
  // named in problems().
  crypto::Result<std::vector<Candidate>> scan(std::int64_t now_ms);
  const std::vector<std::string>& problems() const { return problems_; }

  // Claims `candidate` and creates its object (see above). Fails, leaving
  // the file under its name, when it vanished or changed since it settled,
  // is no longer a regular file, or the spool could not take it (e.g. a
  // full disk: the file waits for the next attempt).
  crypto::Result<ObjectRecord> take(const Candidate& candidate, Spool& spool);

  // take() for many candidates (group commit): every claim made, one barrier;
  // the objects created by one Spool::create_batch; then each claimed file
  // released without waiting for the disk. A release a crash undoes is
  // finished by recover_claims (its id is in the spool), and if the object
  // has already crossed and left the spool, it is taken again under the same
  // id, which the receiving side answers as a duplicate.
  //
  // `classify`, when given, sees each record (size as settled) and the state
  // ingest_record chose (incoming), and may send it elsewhere (outgoing,
  // quarantine) with its verdict and reasons: checks that need no content
  // then cost no second commit.
  using Classify = std::function<void(ObjectRecord& record, State& state)>;
  std::vector<crypto::Result<ObjectRecord>> take_batch(const std::vector<Candidate>& candidates, Spool& spool,
                                                       const Classify& classify = {});
  // take_batch keeps released claim directories, empty, and renames them to
  // the next claims' names rather than remove one and make another (see
  // Spool's recycled inodes for why). tidy() removes them; call it when the
  // source has nothing left to take. Left over after a crash, recover_claims
  // removes them as empty claims.
  void tidy();

  crypto::Result<ClaimRecovery> recover_claims(Spool& spool);

 private:
  struct Observation {
    std::uint64_t size;
    std::int64_t mtime_ns;
    std::uint64_t inode;
    std::int64_t since_ms;
  };

  std::string channel_;
  std::string source_dir_;
  std::chrono::milliseconds settle_;
  std::unordered_map<std::string, Observation> observed_;
  std::vector<std::string> problems_;
  std::unordered_map<std::string, std::vector<std::string>> spare_claims_;  // by directory, relative
};

// The record of a file taken from `relative_path`, and the state it goes to:
// incoming, or quarantine with reason name.invalid. Paths longer than the
// record allows are cut, and the reason says so.
ObjectRecord ingest_record(const ObjectId& id, const std::string& channel, std::string_view relative_path,
                           State& state);

}  // namespace ferry::spool

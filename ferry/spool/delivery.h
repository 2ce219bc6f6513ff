// Delivery on the receiving side: an object in received/ becomes a file in
// the channel's deliver directory, exactly once and never over another file.
//
// Steps, each durable before the next:
//  1. re-check the name rule on the record's path (the peer is not trusted);
//  2. open the deliver directory, then each directory of the path with
//     O_NOFOLLOW, creating missing ones (0755): a symlink planted in the
//     deliver tree is refused, never followed out of it;
//  3. copy the data to a hidden temp name in the target directory
//     (.ferry-deliver.<id>.tmp), checking size and SM3 against the record on
//     the way, fsync;
//  4. choose the final name: the object's own, or if that is taken, the
//     deterministic suffixed_name() with 8, then 16, then 32 hex digits of
//     the id; write it into the record's delivered_name;
//  5. rename with RENAME_NOREPLACE (an existing file is never replaced; if
//     one appeared meanwhile, back to 4 with the next name), fsync the
//     directory;
//  6. move the object to done with verdict "delivered".
// After a crash, delivering the object again first looks at the recorded
// name: if a file is there with the object's size and SM3, the rename had
// happened, and only step 6 is repeated. So no second copy appears.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "ferry/spool/object_id.h"
#include "ferry/spool/spool.h"

namespace ferry::spool {

inline constexpr mode_t kDeliveredFileMode = 0644;
inline constexpr mode_t kDeliveredDirMode = 0755;

struct Delivery {
  std::string path;  // deliver_dir + "/" + name
  std::string name;  // relative to the deliver directory, as in delivered_name
  bool suffixed = false;           // the object's own name was taken
  bool already_delivered = false;  // found in place from before a crash
};

// Errors: Errc::invalid_argument "name.invalid: ..." (the caller
// quarantines), Errc::verify_failed when the data does not match its record,
// Errc::exhausted when every candidate name is taken, Errc::io otherwise
// (including a symlink or non-directory in the way).
crypto::Result<Delivery> deliver(Spool& spool, const ObjectId& id, const std::string& deliver_dir);

// deliver() for many objects (group commit). Where the received data can be
// hard-linked into the deliver directory (the same file system), the
// delivered file is that inode, and that identity replaces step 4's record:
// an object found in received/ whose base or suffixed name is a link to its
// own data file was delivered before a crash cut its removal short. So the
// batch writes no records: it links each object under a hidden name, picks
// the first free name (never one another object of the batch picked), and
// renames with RENAME_NOREPLACE; one barrier over the deliver directories
// makes the names durable, and only then do the objects leave received/
// (Spool::forget, no wait: their ids were remembered before they were
// acknowledged, and a crash that brings one back finds it by its inode).
// Objects that cannot be linked, whose name was taken between the check and
// the rename, or that deliver() had begun, go through deliver() on their own.
struct DeliveryRequest {
  ObjectId id;
  std::string deliver_dir;
  // This process committed the object moments ago from bytes it hashed as
  // they were written (complete_partial, create_batch): the read-back that
  // guards against a changed or damaged spool file is skipped. False for
  // objects found in the spool at start-up.
  bool verified_now = false;
};
std::vector<crypto::Result<Delivery>> deliver_batch(Spool& spool, const std::vector<DeliveryRequest>& requests);

// "report.pdf" -> "report~1a2b3c4d.pdf": the first `hex_digits` hex digits of
// the id go before the last extension ("archive.tar.gz" ->
// "archive.tar~1a2b3c4d.gz"); a name without one, or starting with its only
// dot, gets them at the end ("README~1a2b3c4d", ".profile~1a2b3c4d"). When
// the result would pass 255 bytes the stem is cut at a UTF-8 boundary.
std::string suffixed_name(std::string_view name, const ObjectId& id, std::size_t hex_digits);

}  // namespace ferry::spool

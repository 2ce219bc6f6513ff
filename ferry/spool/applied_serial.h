// Anti-rollback: the highest policy serial this side has applied, kept in
// <spool>/policy-serial so that neither a restart nor an older policy file
// put back in place (with its genuine old signature) takes the side back to
// rules the security officer has replaced.
//
// Format: "ferry-policy-serial/1\n" then the serial in decimal and "\n".
// Written as every durable file is (temp, fsync, rename, fsync the directory:
// fs/durable_file.h), so a reader sees the old value or the new one. Anything
// else in the file is an error, never read as "nothing applied yet": a side
// whose memory of what it applied is damaged fails closed.
#pragma once

#include <optional>
#include <string>

#include "crypto/result.h"
#include "policy/policy.h"

namespace ferry::spool {

class AppliedSerial {
 public:
  static constexpr const char* kFileName = "policy-serial";

  // Reads <spool_dir>/policy-serial; a missing file (or spool) means no
  // policy has been applied yet.
  static crypto::Result<AppliedSerial> open(const std::string& spool_dir);

  const std::string& path() const { return path_; }
  std::optional<policy::Serial> highest() const { return highest_; }

  // An error naming both serials and this file when `serial` is lower than
  // the highest applied; an equal serial (the same policy after a restart)
  // is accepted.
  crypto::Status check(policy::Serial serial) const;

  // Makes `serial` the highest applied, durably, when it is higher.
  crypto::Status record(policy::Serial serial);

 private:
  AppliedSerial(std::string path, std::optional<policy::Serial> highest)
      : path_(std::move(path)), highest_(highest) {}

  std::string path_;
  std::optional<policy::Serial> highest_;
};

}  // namespace ferry::spool

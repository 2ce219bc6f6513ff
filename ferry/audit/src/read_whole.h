// A whole file into memory, for the log's recovery and for verify (both
// read segments of at most audit.segment_size). Internal to ferry/audit.
#pragma once

#include <string>

#include "crypto/result.h"

namespace ferry::audit {

// Errc::io naming the file; does not follow a symlink.
crypto::Result<std::string> read_whole(const std::string& path);

}  // namespace ferry::audit

// Free space on the file system holding a directory, as an unprivileged
// process may use it (statvfs f_bavail * f_frsize): the daemon compares it
// with the free-space watermark before accepting new objects.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/result.h"

namespace ferry::spool {

crypto::Result<std::uint64_t> free_bytes(const std::string& dir);

}  // namespace ferry::spool

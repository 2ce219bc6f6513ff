#include "ferry/spool/free_space.h"

#include <sys/statvfs.h>

#include <cerrno>

#include "ferry/spool/src/posix.h"

namespace ferry::spool {

crypto::Result<std::uint64_t> free_bytes(const std::string& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return internal::io_error(dir, errno);
  return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

}  // namespace ferry::spool

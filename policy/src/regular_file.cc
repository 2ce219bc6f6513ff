#include "policy/src/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::policy::detail {

crypto::Result<std::string> read_regular_file(const std::string& path, std::size_t max_size) {
  using crypto::Errc;
  using crypto::make_error;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return make_error(Errc::io, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return make_error(Errc::io, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error(Errc::io, S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    return make_error(Errc::exhausted, "larger than " + std::to_string(max_size) + " bytes");
  }
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::io, std::strerror(errno));
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_size) {
      return make_error(Errc::exhausted, "larger than " + std::to_string(max_size) + " bytes");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace ferry::policy::detail

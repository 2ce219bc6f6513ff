#include "ferry/fs/durable_file.h"
#include "ferry/fs/fd.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

namespace ferry::fs {
namespace {

using crypto::Errc;
using crypto::make_error;

crypto::Error io_error(const std::string& path, int err) {
  return make_error(Errc::io, path + ": " + std::strerror(err));
}


Status write_all(int fd, ByteView data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

std::string temp_name_for(const std::string& path) {
  // Hidden, in the same directory (so rename stays on one file system), and
  // unguessable enough that two writers never collide.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string dir = parent_directory(path);
  const std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(rng()));
  return dir + "/." + base + "." + suffix + ".tmp";
}

// Writes data to a fresh temp file next to `path` and fsyncs it.
Result<std::string> write_temp(const std::string& path, ByteView data, mode_t mode) {
  std::string tmp = temp_name_for(path);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) return io_error(tmp, errno);
  // The umask must not widen or narrow what the caller asked for (a key file
  // is 0600 whatever the umask; a public key 0644).
  if (::fchmod(fd.get(), mode) != 0 || !write_all(fd.get(), data, tmp).ok() || ::fsync(fd.get()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error(tmp, err);
  }
  if (::close(fd.release()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error(tmp, err);
  }
  return tmp;
}

}  // namespace

std::string parent_directory(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status fsync_directory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error(dir, errno);
  if (::fsync(fd.get()) != 0) return io_error(dir, errno);
  return {};
}

Status make_directories(const std::string& dir, mode_t mode) {
  if (dir.empty()) return make_error(Errc::invalid_argument, "empty directory name");
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    const std::string prefix = dir.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) return io_error(prefix, errno);
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return io_error(dir, errno);
  if (!S_ISDIR(st.st_mode)) return make_error(Errc::io, dir + ": not a directory");
  return {};
}

Status write_new_file(const std::string& path, ByteView data, mode_t mode) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return make_error(Errc::io, path + ": exists; refusing to overwrite");
  Result<std::string> tmp = write_temp(path, data, mode);
  if (!tmp.ok()) return tmp.error();
  int rc = ::renameat2(AT_FDCWD, tmp->c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
    // File systems without RENAME_NOREPLACE: link(2) also refuses to replace.
    rc = ::link(tmp->c_str(), path.c_str());
    if (rc == 0) ::unlink(tmp->c_str());
  }
  if (rc != 0) {
    int err = errno;
    ::unlink(tmp->c_str());
    if (err == EEXIST) return make_error(Errc::io, path + ": exists; refusing to overwrite");
    return io_error(path, err);
  }
  return fsync_directory(parent_directory(path));
}

Status replace_file(const std::string& path, ByteView data, mode_t mode) {
  Result<std::string> tmp = write_temp(path, data, mode);
  if (!tmp.ok()) return tmp.error();
  if (::rename(tmp->c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp->c_str());
    return io_error(path, err);
  }
  return fsync_directory(parent_directory(path));
}

Result<Bytes> read_file(const std::string& path, std::size_t max_size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return io_error(path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return io_error(path, errno);
  if (S_ISDIR(st.st_mode)) return make_error(Errc::io, path + ": is a directory");
  Bytes out;
  std::uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_size) {
      return make_error(Errc::io, path + ": larger than " + std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

}  // namespace ferry::fs

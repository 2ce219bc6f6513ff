#include "ferry/spool/src/posix.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace ferry::spool::internal {

crypto::Error io_error(const std::string& what, int err) {
  return crypto::make_error(crypto::Errc::io, what + ": " + std::strerror(err));
}

Status write_all(int fd, ByteView data, const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(what, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Status pwrite_all(int fd, ByteView data, std::uint64_t offset, const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(what, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Status fsync_fd(int fd, const std::string& what) {
  if (::fsync(fd) != 0) return io_error(what, errno);
  return {};
}

Status fsync_path(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error(dir, errno);
  return fsync_fd(fd.get(), dir);
}

namespace {
constexpr std::size_t kCopyBuffer = 1 << 20;
}

Result<Digested> copy_and_hash(int in, int out, const std::string& in_what, const std::string& out_what) {
  std::vector<std::uint8_t> buf(kCopyBuffer);
  crypto::Sm3 sm3;
  Digested d;
  for (;;) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(in_what, errno);
    }
    if (n == 0) break;
    const ByteView chunk(buf.data(), static_cast<std::size_t>(n));
    sm3.update(chunk);
    d.size += chunk.size();
    if (out >= 0) {
      if (Status s = write_all(out, chunk, out_what); !s.ok()) return s.error();
      // Start writeback of large copies as they go, so the fsync that makes
      // them durable finds little left to write (no wait here).
      if (d.size % kWritebackStride == 0) {
        ::sync_file_range(out, static_cast<off_t>(d.size - kWritebackStride), static_cast<off_t>(kWritebackStride),
                          SYNC_FILE_RANGE_WRITE);
      }
    }
  }
  d.sm3 = sm3.finish();
  return d;
}

Result<Digested> hash_file(int fd, const std::string& what) {
  std::vector<std::uint8_t> buf(kCopyBuffer);
  crypto::Sm3 sm3;
  Digested d;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(d.size));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(what, errno);
    }
    if (n == 0) break;
    sm3.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
    d.size += static_cast<std::uint64_t>(n);
  }
  d.sm3 = sm3.finish();
  return d;
}

int rename_noreplace(int old_dir, const std::string& old_name, int new_dir, const std::string& new_name) {
  if (::renameat2(old_dir, old_name.c_str(), new_dir, new_name.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // File systems without RENAME_NOREPLACE: link(2) also refuses to replace.
  if (::linkat(old_dir, old_name.c_str(), new_dir, new_name.c_str(), 0) != 0) return errno;
  ::unlinkat(old_dir, old_name.c_str(), 0);
  return 0;
}

}  // namespace ferry::spool::internal

namespace ferry::spool::internal {

Result<Fd> open_directory(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error(path, errno);
  return fd;
}

Result<Fd> open_subdirectory(int parent, const std::string& name, const std::string& what) {
  Fd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) return crypto::make_error(crypto::Errc::io, what + ": not a directory (symlinks are not followed)");
    return io_error(what, errno);
  }
  return fd;
}

Result<Fd> open_relative_directory(int root, std::string_view relative, const std::string& what) {
  Fd dir(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return io_error(what, errno);
  std::size_t start = 0;
  while (start < relative.size()) {
    std::size_t slash = relative.find('/', start);
    if (slash == std::string_view::npos) slash = relative.size();
    Result<Fd> next = open_subdirectory(dir.get(), std::string(relative.substr(start, slash - start)), what);
    if (!next.ok()) return next.error();
    dir = std::move(*next);
    start = slash + 1;
  }
  return dir;
}

Result<std::vector<std::string>> list_names(int dir, const std::string& what) {
  const int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return io_error(what, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(copy), &::closedir);
  if (!d) {
    const int err = errno;
    ::close(copy);
    return io_error(what, err);
  }
  ::rewinddir(d.get());
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d.get())) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) return io_error(what, errno);
  return names;
}

}  // namespace ferry::spool::internal

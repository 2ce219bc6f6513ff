#include "ferry/fs/sync_barrier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <map>

namespace ferry::fs {

namespace {

crypto::Error io_error(const std::string& what, int err) {
  return crypto::make_error(crypto::Errc::io, what + ": " + std::strerror(err));
}

}  // namespace

void SyncBarrier::file(Fd fd, std::string what) {
  assert(fd.valid());
  files_.push_back({std::move(fd), std::move(what)});
}

void SyncBarrier::directory(const std::string& path) { directories_.insert(path); }

crypto::Status SyncBarrier::commit() {
  std::vector<File> files = std::move(files_);
  std::set<std::string> directories = std::move(directories_);
  files_.clear();
  directories_.clear();
  for (const std::string& dir : directories) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return io_error(dir, errno);
    files.push_back({std::move(fd), dir});
  }
  if (files.size() <= kFsyncEachLimit) {
    for (const File& f : files) {
      if (::fsync(f.fd.get()) != 0) return io_error(f.what, errno);
    }
    return {};
  }
  // One syncfs per file system, through a descriptor on it.
  std::map<dev_t, const File*> per_device;
  for (const File& f : files) {
    struct stat st;
    if (::fstat(f.fd.get(), &st) != 0) return io_error(f.what, errno);
    per_device.emplace(st.st_dev, &f);
  }
  for (const auto& [dev, f] : per_device) {
    if (::syncfs(f->fd.get()) != 0) return io_error(f->what + " (syncfs)", errno);
  }
  return {};
}

}  // namespace ferry::fs

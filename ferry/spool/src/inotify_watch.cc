#include "ferry/spool/inotify_watch.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "ferry/spool/src/posix.h"

namespace ferry::spool {

using crypto::Result;
using internal::Fd;

namespace {

constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

}  // namespace

struct InotifyWatch::Impl {
  Fd fd;
  std::unordered_map<int, std::string> dirs;  // watch descriptor -> directory path
  std::size_t failed = 0;

  // Watches `path` and the directories below it. False if any watch failed.
  bool add_tree(const std::string& path, int depth) {
    const int wd = ::inotify_add_watch(fd.get(), path.c_str(), kMask);
    if (wd < 0) {
      ++failed;
      return false;
    }
    dirs[wd] = path;
    bool ok = true;
    Result<Fd> dir = internal::open_directory(path);
    if (!dir.ok()) return false;
    Result<std::vector<std::string>> names = internal::list_names(dir->get(), path);
    if (!names.ok()) return false;
    for (const std::string& name : *names) {
      struct stat st;
      if (name.starts_with(".") || ::fstatat(dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISDIR(st.st_mode) || depth >= 128) {
        continue;
      }
      ok = add_tree(path + "/" + name, depth + 1) && ok;
    }
    return ok;
  }
};

InotifyWatch::InotifyWatch(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InotifyWatch::InotifyWatch(InotifyWatch&&) noexcept = default;
InotifyWatch& InotifyWatch::operator=(InotifyWatch&&) noexcept = default;
InotifyWatch::~InotifyWatch() = default;

crypto::Result<InotifyWatch> InotifyWatch::open(const std::string& root) {
  auto impl = std::make_unique<Impl>();
  impl->fd = Fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!impl->fd.valid()) return internal::io_error("inotify", errno);
  if (::inotify_add_watch(impl->fd.get(), root.c_str(), kMask) < 0) return internal::io_error(root, errno);
  impl->add_tree(root, 0);
  return InotifyWatch(std::move(impl));
}

int InotifyWatch::fd() const { return impl_->fd.get(); }

bool InotifyWatch::drain() {
  bool relevant = false;
  alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(impl_->fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return true;  // cannot tell what happened: rescan
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      struct inotify_event ev;
      std::memcpy(&ev, buf + off, sizeof ev);
      const char* name_start = buf + off + sizeof ev;
      const std::string name(name_start, ::strnlen(name_start, ev.len));
      off += static_cast<ssize_t>(sizeof ev + ev.len);
      if (ev.mask & IN_Q_OVERFLOW) {
        relevant = true;
        continue;
      }
      if (ev.mask & IN_IGNORED) {
        impl_->dirs.erase(ev.wd);
        continue;
      }
      if (name.empty() || name.starts_with(".")) continue;
      auto dir = impl_->dirs.find(ev.wd);
      if ((ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO))) {
        // Files may already be inside: the caller's rescan finds them.
        if (dir != impl_->dirs.end()) impl_->add_tree(dir->second + "/" + name, 0);
        relevant = true;
        continue;
      }
      if (ev.mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)) relevant = true;
    }
  }
  return relevant;
}

std::size_t InotifyWatch::watch_count() const { return impl_->dirs.size(); }
std::size_t InotifyWatch::failed_watches() const { return impl_->failed; }

}  // namespace ferry::spool

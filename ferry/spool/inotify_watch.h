// Change notification for a source tree, so files are taken soon after they
// settle rather than at the next periodic rescan. inotify watches one
// directory each, so the whole tree is watched and watches are added as
// subdirectories appear. It is only a hint: the queue can overflow and the
// watch limit can be reached, so the daemon still rescans periodically.
#pragma once

#include <memory>
#include <string>

#include "crypto/result.h"

namespace ferry::spool {

class InotifyWatch {
 public:
  // Watches `root` and every directory below it that a scan would enter (no
  // dot-directories, no symlinks).
  static crypto::Result<InotifyWatch> open(const std::string& root);

  InotifyWatch(InotifyWatch&&) noexcept;
  InotifyWatch& operator=(InotifyWatch&&) noexcept;
  ~InotifyWatch();

  // Non-blocking; poll it for POLLIN.
  int fd() const;

  // Reads every queued event. True when something relevant happened: a file
  // was closed after writing or moved in, a directory appeared (it is now
  // watched, with what is already in it), the queue overflowed, or a watch
  // could not be added. Events for dot-names (our own claims, in-progress
  // hidden files) are not relevant.
  bool drain();

  std::size_t watch_count() const;
  std::size_t failed_watches() const;  // directories we could not watch (e.g. the inotify limit)

 private:
  struct Impl;
  explicit InotifyWatch(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::spool

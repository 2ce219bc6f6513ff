// install_database: a new signature set replaces the old one as a whole or
// not at all. The files are copied into a sibling directory, fsynced, tested
// there (so what is tested is byte for byte what is installed), and
// exchanged with the old directory in one renameat2(RENAME_EXCHANGE). At any
// crash point the database's name holds either the old or the new set, each
// complete; a sibling left behind by a crash is removed by the next install.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "ferry/antivirus/scanner.h"
#include "ferry/antivirus/src/signature_files.h"
#include "ferry/fs/durable_file.h"
#include "ferry/fs/fd.h"

namespace ferry::antivirus {

using crypto::Errc;
using crypto::make_error;

namespace {

crypto::Error io_error(const std::string& what, int err) {
  return make_error(Errc::io, what + ": " + std::strerror(err));
}

std::string base_name(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Every entry of `dir` but "." and "..", sorted (so errors and copies come
// in the same order on every run).
crypto::Result<std::vector<std::string>> list_directory(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return io_error(dir, errno);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
    errno = 0;
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return io_error(dir, err);
  std::sort(names.begin(), names.end());
  return names;
}

// The files of an update: regular files with signature extensions only. A
// stray file (a README, freshclam.dat, a subdirectory) means the operator
// pointed at the wrong place; installing around it would hide that.
crypto::Result<std::vector<std::string>> update_files(const std::string& from) {
  crypto::Result<std::vector<std::string>> names = list_directory(from);
  if (!names.ok()) return make_error(Errc::io, "antivirus update " + names.error().message);
  for (const std::string& n : *names) {
    const std::string path = from + "/" + n;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return io_error(path, errno);
    if (!S_ISREG(st.st_mode)) {
      return make_error(Errc::invalid_argument, path + ": not a regular file; an update holds signature files only");
    }
    if (!is_signature_file(n)) {
      return make_error(Errc::invalid_argument, path + ": not a ClamAV signature file (accepted extensions: " +
                                                    std::string(signature_extensions()) + ")");
    }
  }
  if (names->empty()) return make_error(Errc::io, "no signatures in " + from);
  return names;
}

crypto::Status write_all(int fd, const char* data, std::size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

// Copies one file, durably, keeping its mtime: a database without a CVD
// build time is dated by its files' mtimes, and the copy must not make an
// old database look new.
crypto::Status copy_file(const std::string& from, const std::string& to) {
  fs::Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) return io_error(from, errno);
  struct stat st;
  if (::fstat(in.get(), &st) != 0) return io_error(from, errno);
  if (!S_ISREG(st.st_mode)) return make_error(Errc::invalid_argument, from + ": not a regular file");
  fs::Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!out.valid()) return io_error(to, errno);
  std::vector<char> buf(std::size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(from, errno);
    }
    if (n == 0) break;
    if (crypto::Status s = write_all(out.get(), buf.data(), static_cast<std::size_t>(n), to); !s.ok()) return s;
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(out.get(), times) != 0 || ::fsync(out.get()) != 0) return io_error(to, errno);
  if (::close(out.release()) != 0) return io_error(to, errno);
  return {};
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

// "DATABASE.new-<pid>" siblings whose process is gone: a crash mid-install
// left them (before the exchange: a partial new set; after it: the old
// database). Neither is in use.
void remove_leftovers(const std::string& parent, const std::string& base) {
  crypto::Result<std::vector<std::string>> names = list_directory(parent);
  if (!names.ok()) return;
  const std::string prefix = base + ".new-";
  for (const std::string& n : *names) {
    if (!n.starts_with(prefix) || n.size() == prefix.size()) continue;
    const std::string digits = n.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        digits.size() > 9) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH)) remove_tree(parent + "/" + n);
  }
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
}

}  // namespace

crypto::Result<DatabaseInfo> install_database(const std::string& from, const std::string& database,
                                              const ScannerOptions& options) {
  std::string target = database;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  if (target.empty() || target == "/" || base_name(target) == "." || base_name(target) == "..") {
    return make_error(Errc::invalid_argument, "antivirus database '" + database + "': not a directory name");
  }
  const std::string parent = fs::parent_directory(target);
  const std::string staging = target + ".new-" + std::to_string(::getpid());

  crypto::Result<std::vector<std::string>> files = update_files(from);
  if (!files.ok()) return files.error();

  struct stat st;
  bool replacing = false;
  if (::lstat(target.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return make_error(Errc::io, target + ": exists and is not a directory");
    replacing = true;
  } else if (errno != ENOENT) {
    return io_error(target, errno);
  }

  remove_leftovers(parent, base_name(target));
  if (::mkdir(staging.c_str(), 0755) != 0) return io_error(staging, errno);
  auto abandon = [&staging](crypto::Error e) {
    remove_tree(staging);
    return e;
  };
  for (const std::string& n : *files) {
    if (crypto::Status s = copy_file(from + "/" + n, staging + "/" + n); !s.ok()) return abandon(s.error());
  }
  if (crypto::Status s = fs::fsync_directory(staging); !s.ok()) return abandon(s.error());

  crypto::Result<DatabaseInfo> tested = test_database(staging, options);
  if (!tested.ok()) {
    // The copy is FROM's bytes; the operator knows the files by that name.
    crypto::Error e = tested.error();
    replace_all(e.message, staging, from);
    return abandon(std::move(e));
  }

  if (replacing) {
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
      // No fallback to two renames: between them the database would not
      // exist, and a daemon reloading then would scan with nothing.
      const int err = errno;
      return abandon(make_error(Errc::io, "cannot exchange " + staging + " with " + target + ": " +
                                              std::strerror(err) +
                                              (err == EINVAL ? " (the file system lacks RENAME_EXCHANGE)" : "")));
    }
  } else {
    int rc = ::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && errno == EINVAL) rc = ::rename(staging.c_str(), target.c_str());
    if (rc != 0) return abandon(io_error(target, errno));
  }
  // If this fsync fails, a power cut may undo the exchange; the name then
  // holds the old set, still complete. The install is not "refused" for it.
  (void)fs::fsync_directory(parent);
  if (replacing) {
    // `staging` now names the old database. Failing to remove it leaves a
    // directory the next install removes; the install itself succeeded.
    remove_tree(staging);
    (void)fs::fsync_directory(parent);
  }
  DatabaseInfo info = std::move(tested).value();
  info.directory = target;
  return info;
}

}  // namespace ferry::antivirus

// Real directories for spool tests: a fresh temp directory per test, and
// small helpers to write, read and list files in it.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm3.h"

namespace ferry::spool::test {

namespace stdfs = std::filesystem;

class TempTree {
 public:
  TempTree() {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-spool-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
  }
  ~TempTree() {
    std::error_code ec;
    stdfs::remove_all(root_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }

 private:
  std::string root_;
};

inline void write_file(const std::string& path, const std::string& content) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Entry names of a directory, sorted; files below it when recursive
// (relative paths).
inline std::vector<std::string> names(const std::string& dir, bool recursive = false) {
  std::vector<std::string> out;
  if (recursive) {
    for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
      if (!e.is_directory()) out.push_back(stdfs::relative(e.path(), dir).string());
    }
  } else {
    for (const auto& e : stdfs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The value of a result the test needs to go on; a failure throws, which
// fails the test case with the message.
template <class T>
T must(crypto::Result<T> r) {
  if (!r.ok()) throw std::runtime_error(r.error().message);
  return std::move(r).value();
}

inline crypto::Sm3Digest sm3_of(const std::string& s) { return crypto::Sm3::digest(crypto::as_bytes(s)); }

// Crash tests: runs body(report_fd) in a forked child that writes one line
// per completed step to report_fd and never returns. The parent waits for
// `steps` lines, lets the child run on for `extra`, and kills it with
// SIGKILL, so the kill lands at a random point after some progress.
struct Killed {
  std::string report;  // every line the child wrote
  bool by_sigkill = false;
};

template <class Body>
Killed run_and_kill(Body body, std::size_t steps, std::chrono::microseconds extra) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    ::close(fds[0]);
    body(fds[1]);
    ::_exit(99);
  }
  ::close(fds[1]);
  Killed k;
  char buf[4096];
  while (static_cast<std::size_t>(std::count(k.report.begin(), k.report.end(), '\n')) < steps) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;  // the child stopped by itself: the test sees it below
    k.report.append(buf, static_cast<std::size_t>(n));
  }
  std::this_thread::sleep_for(extra);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) k.report.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  k.by_sigkill = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  return k;
}

// For the child: one line on the report pipe, or exit.
inline void report_line(int fd, const std::string& line) {
  const std::string l = line + "\n";
  if (::write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) ::_exit(98);
}

}  // namespace ferry::spool::test

#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

extern char** environ;

namespace ferry::test {
namespace {

class Fd {
 public:
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void assign(int fd) {
    reset();
    fd_ = fd;
  }
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read_end;
  Fd write_end;
};

// O_CLOEXEC: only the dup2'ed copies reach the child, so one child never
// holds another's pipe open and every EOF arrives when it should.
bool make_pipe(Pipe& p, std::string& error) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  p.read_end.assign(fds[0]);
  p.write_end.assign(fds[1]);
  return true;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A child that exits before reading all of its stdin must surface as EPIPE on
// our write, not as a SIGPIPE that kills the whole test binary. The child gets
// the default disposition back through POSIX_SPAWN_SETSIGDEF.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

// Reads what is available; false at EOF or on an error other than EAGAIN.
bool drain(int fd, std::string& sink) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      sink.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

}  // namespace

std::string ProcessOutcome::describe() const {
  if (!started) return "not started: " + error;
  if (timed_out) return "timed out and was killed";
  if (exited) return "exit " + std::to_string(exit_code);
  return "killed by signal " + std::to_string(signal);
}

ProcessOutcome run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  assert(!argv.empty());
  ignore_sigpipe_once();
  ProcessOutcome outcome;

  Pipe in, out, err;
  if (!make_pipe(in, outcome.error) || !make_pipe(out, outcome.error) || !make_pipe(err, outcome.error)) {
    return outcome;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read_end.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write_end.get(), STDERR_FILENO);
  if (!options.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_directory.c_str());
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = -1;
  // glibc reports a failed exec (ENOENT, EACCES) as posix_spawnp's result.
  const int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  in.read_end.reset();
  out.write_end.reset();
  err.write_end.reset();
  if (rc != 0) {
    outcome.error = "cannot execute '" + argv[0] + "': " + std::strerror(rc);
    return outcome;
  }
  outcome.started = true;

  set_nonblocking(in.write_end.get());
  set_nonblocking(out.read_end.get());
  set_nonblocking(err.read_end.get());
  std::size_t written = 0;
  if (options.stdin_bytes.empty()) in.write_end.reset();

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  auto remaining_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  };

  while (in.write_end.open() || out.read_end.open() || err.read_end.open()) {
    const long long wait_ms = remaining_ms();
    if (wait_ms <= 0) {
      outcome.timed_out = true;
      break;
    }
    pollfd fds[3];
    nfds_t n = 0;
    int in_slot = -1, out_slot = -1, err_slot = -1;
    if (in.write_end.open()) {
      in_slot = static_cast<int>(n);
      fds[n++] = {in.write_end.get(), POLLOUT, 0};
    }
    if (out.read_end.open()) {
      out_slot = static_cast<int>(n);
      fds[n++] = {out.read_end.get(), POLLIN, 0};
    }
    if (err.read_end.open()) {
      err_slot = static_cast<int>(n);
      fds[n++] = {err.read_end.get(), POLLIN, 0};
    }
    const int ready = ::poll(fds, n, static_cast<int>(std::min<long long>(wait_ms, 1000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      outcome.error = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (in_slot >= 0 && fds[in_slot].revents != 0) {
      const std::span<const std::uint8_t> rest = options.stdin_bytes.subspan(written);
      const ssize_t w = ::write(in.write_end.get(), rest.data(), std::min<std::size_t>(rest.size(), 65536));
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        // EPIPE: the child stopped reading; its exit status tells the rest.
        outcome.error = std::string("stdin write after ") + std::to_string(written) + " bytes: " + std::strerror(errno);
        in.write_end.reset();
      }
      if (written == options.stdin_bytes.size()) in.write_end.reset();
    }
    if (out_slot >= 0 && fds[out_slot].revents != 0 && !drain(out.read_end.get(), outcome.out)) {
      out.read_end.reset();
    }
    if (err_slot >= 0 && fds[err_slot].revents != 0 && !drain(err.read_end.get(), outcome.err)) {
      err.read_end.reset();
    }
  }

  // The pipes are closed; the child may still be running (it closed them
  // itself, or the deadline passed).
  int status = 0;
  for (;;) {
    if (outcome.timed_out) ::kill(pid, SIGKILL);
    const pid_t w = ::waitpid(pid, &status, outcome.timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      outcome.error = std::string("waitpid: ") + std::strerror(errno);
      return outcome;
    }
    if (remaining_ms() <= 0) {
      outcome.timed_out = true;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (outcome.timed_out) return outcome;
  if (WIFEXITED(status)) {
    outcome.exited = true;
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.signal = WTERMSIG(status);
  }
  return outcome;
}

std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::string_view rest(path);
  for (;;) {
    const std::size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";  // POSIX: an empty PATH element is the current directory
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(colon + 1);
  }
}

}  // namespace ferry::test

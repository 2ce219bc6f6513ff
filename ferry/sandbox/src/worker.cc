#include "ferry/sandbox/worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ferry/disarm/disarm.h"
#include "ferry/fs/durable_file.h"
#include "ferry/sandbox/serve.h"
#include "ferry/sandbox/src/packet.h"

namespace ferry::sandbox {
namespace {

using crypto::Errc;
using crypto::make_error;
using policy::FileType;

std::string errno_text(int e) { return std::strerror(e); }

bool is_token(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::optional<FileType> file_type_named(std::string_view name) {
  for (const auto& n : policy::kFileTypeNames) {
    if (n.name == name) return n.value;
  }
  return std::nullopt;
}

std::string head_of(int fd, std::size_t n) {
  std::string out(n, '\0');
  const ssize_t got = ::pread(fd, out.data(), n, 0);
  out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return out;
}

crypto::Result<crypto::Sm3Digest> digest_of(int fd, std::uint64_t size) {
  crypto::Sm3 h;
  std::string buf(1 << 16, '\0');
  std::uint64_t off = 0;
  while (off < size) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
    const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(Errc::io, "reading the rebuilt object: " + errno_text(n < 0 ? errno : EIO));
    h.update(crypto::ByteView(reinterpret_cast<const std::uint8_t*>(buf.data()), static_cast<std::size_t>(n)));
    off += static_cast<std::uint64_t>(n);
  }
  return h.finish();
}

std::string describe_signal(int sig) {
  switch (sig) {
    case SIGSYS: return "killed by SIGSYS: a system call outside its seccomp allow-list";
    case SIGXCPU: return "killed by SIGXCPU: its CPU-time limit (RLIMIT_CPU)";
    case SIGXFSZ: return "killed by SIGXFSZ: its output-size limit (RLIMIT_FSIZE)";
    case SIGKILL: return "killed (SIGKILL)";
    case SIGSEGV: return "a memory fault (SIGSEGV)";
    case SIGBUS: return "a bus error (SIGBUS)";
    case SIGABRT: return "aborted (SIGABRT)";
    case SIGFPE: return "an arithmetic fault (SIGFPE)";
    case SIGILL: return "an illegal instruction (SIGILL)";
    default: return std::string("killed by signal ") + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  }
}

// CPU seconds the process has used (utime + stime of /proc/PID/stat).
double cpu_seconds_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

Examined failed(std::string code, std::string detail, std::string incident) {
  Examined e;
  e.answer.reasons.push_back({std::move(code), std::move(detail)});
  e.incident = std::move(incident);
  return e;
}

}  // namespace

bool leads_as(policy::FileType type, std::string_view head) {
  const bool png = head.starts_with("\x89PNG\r\n\x1a\n");
  const bool jpeg = head.starts_with("\xff\xd8\xff");
  const bool zip = head.starts_with(std::string_view("PK\x03\x04", 4)) || head.starts_with(std::string_view("PK\x05\x06", 4));
  switch (type) {
    // ISO 32000-1 §7.5.2 puts the header first; readers (and ferry's
    // structural check) accept it within the first 1024 bytes.
    case FileType::pdf: return !png && !jpeg && !zip && head.substr(0, 1024).find("%PDF-") != std::string_view::npos;
    case FileType::png: return png;
    case FileType::jpeg: return jpeg;
    case FileType::docx:
    case FileType::xlsx:
    case FileType::pptx:
    case FileType::ofd:
    case FileType::zip: return zip;
    default: return !png && !jpeg && !zip && !head.starts_with("%PDF-");  // text: none of the binary signatures
  }
}

std::string default_worker_program() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "ferry-worker";
  return (self.parent_path() / "ferry-worker").string();
}

Worker::Worker(WorkerOptions options, WorkerPolicy policy) : options_(std::move(options)), policy_(std::move(policy)) {}

Worker::~Worker() { stop(); }

std::chrono::milliseconds Worker::timeout_for(std::uint64_t size) const {
  const double mib = static_cast<double>(size) / double(1 << 20);
  const auto t = options_.timeout_floor +
                 std::chrono::milliseconds(static_cast<std::int64_t>(mib * double(options_.timeout_per_mib.count())));
  return std::min(t, options_.timeout_ceiling);
}

crypto::Status Worker::start() {
  if (sock_.valid()) return {};
  return spawn();
}

void Worker::stop() { discard(false); }

void Worker::discard(bool kill) {
  if (pid_ == 0) {
    sock_.reset();
    return;
  }
  if (kill) ::kill(pid_, SIGKILL);
  sock_.reset();  // a worker waiting for a request sees the end and exits
  (void)reap(kill);
}

std::string Worker::reap(bool killed) {
  std::string how;
  if (pid_ != 0) {
    int status = 0;
    pid_t got = 0;
    // A worker whose socket closed exits at once; give it a moment, then
    // make sure.
    for (int i = 0; i < 200; ++i) {
      got = ::waitpid(pid_, &status, WNOHANG);
      if (got != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (got == 0) {
      ::kill(pid_, SIGKILL);
      got = ::waitpid(pid_, &status, 0);
    }
    if (got == pid_) {
      if (WIFSIGNALED(status)) {
        how = killed && WTERMSIG(status) == SIGKILL ? "killed" : describe_signal(WTERMSIG(status));
      } else if (WIFEXITED(status)) {
        const int code = WEXITSTATUS(status);
        if (code == kExitOutOfMemory) {
          how = "ran out of memory (its address-space limit, " + std::to_string(options_.memory >> 20) +
                " MiB beyond what it needs to start)";
        } else {
          how = "exited with status " + std::to_string(code);
        }
      }
    }
    pid_ = 0;
  }
  sock_.reset();
  used_ = 0;
  cpu_checked_at_ = 0;
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
  return how;
}

// Any failure after the fork leaves no half-started worker behind: one that
// never got its setup must not be sent an object.
crypto::Status Worker::spawn() {
  crypto::Status s = start_process();
  if (!s.ok()) discard(true);
  return s;
}

crypto::Status Worker::start_process() {
  discard(true);
  ++stats_.started;
  if (crypto::Status s = fs::make_directories(options_.work_dir, 0700); !s.ok()) return s;
  // Unique in the process: a side has two Workers for a moment after a
  // policy reload, both under the same work_dir.
  static std::atomic<std::uint64_t> serial{0};
  dir_ = options_.work_dir + "/worker-" + std::to_string(::getpid()) + "-" + std::to_string(++serial);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (::mkdir(dir_.c_str(), 0700) != 0) return make_error(Errc::io, "mkdir " + dir_ + ": " + errno_text(errno));

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return make_error(Errc::io, "socketpair: " + errno_text(errno));
  }
  fs::Fd mine(pair[0]);
  fs::Fd theirs(pair[1]);
  const std::string program = options_.program;
  // The worker's standard descriptors lead nowhere: its stderr would
  // otherwise be ferryd's, where audit lines are copied.
  fs::Fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null.valid()) return make_error(Errc::io, "/dev/null: " + errno_text(errno));
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(Errc::io, "fork: " + errno_text(errno));
  if (pid == 0) {
    // The child of a threaded process: async-signal-safe calls only.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (theirs.get() == 3) {
      if (::fcntl(3, F_SETFD, 0) != 0) ::_exit(127);  // dup2 onto itself would keep close-on-exec
    } else if (::dup2(theirs.get(), 3) < 0) {
      ::_exit(127);
    }
    for (int std_fd = 0; std_fd < 3; ++std_fd) {
      if (::dup2(null.get(), std_fd) < 0) ::_exit(127);
    }
    ::syscall(SYS_close_range, 4U, ~0U, 0U);
    char arg0[] = "ferry-worker";
    char arg1[] = "--fd";
    char arg2[] = "3";
    char* argv[] = {arg0, arg1, arg2, nullptr};
    ::execv(program.c_str(), argv);
    ::_exit(127);
  }
  pid_ = pid;
  theirs.reset();
  sock_ = std::move(mine);

  // The policy travels as a sealed memfd: the worker reads exactly the
  // bytes ferryd admitted, and cannot change them.
  fs::Fd doc(::memfd_create("ferry-policy", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!doc.valid()) return make_error(Errc::io, "memfd_create: " + errno_text(errno));
  std::string_view rest = policy_.text;
  while (!rest.empty()) {
    const ssize_t n = ::write(doc.get(), rest.data(), rest.size());
    if (n <= 0) return make_error(Errc::io, "writing the policy memfd: " + errno_text(errno));
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fcntl(doc.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return make_error(Errc::io, "sealing the policy memfd: " + errno_text(errno));
  }

  Setup setup;
  setup.policy_name = policy_.name;
  setup.policy_dir = policy_.dir;
  setup.av_database = options_.av_database;
  setup.av_max_age_hours = static_cast<std::uint32_t>(options_.av_max_age.count());
  setup.temp_dir = dir_;
  setup.user = options_.user;
  setup.memory = options_.memory;
  setup.max_output = options_.max_output;
  // The whole life's CPU: the client retires a worker past half of it.
  const auto ceiling_s = std::chrono::duration_cast<std::chrono::seconds>(options_.timeout_ceiling).count();
  setup.cpu_seconds = static_cast<std::uint32_t>(std::max<std::int64_t>(60, 4 * ceiling_s));
  setup.require_chroot = options_.require_chroot;
  if (int e = detail::send_packet(sock_.get(), encode(setup), {doc.get()}); e != 0) {
    const std::string how = reap(false);
    return make_error(Errc::io, "starting " + program + ": " + (how.empty() ? errno_text(e) : how) +
                                    (how == "exited with status 127" ? " (cannot execute it)" : ""));
  }
  struct pollfd p{sock_.get(), POLLIN, 0};
  int ready_in;
  do {
    ready_in = ::poll(&p, 1, static_cast<int>(options_.setup_timeout.count()));
  } while (ready_in < 0 && errno == EINTR);
  if (ready_in < 0) return make_error(Errc::io, "waiting for " + program + ": " + errno_text(errno));
  if (ready_in == 0) {
    return make_error(Errc::io, program + " did not finish setting up within " +
                                    std::to_string(options_.setup_timeout.count() / 1000) + " s");
  }
  detail::Packet packet;
  if (int e = detail::receive_packet(sock_.get(), packet); e != 0) {
    const std::string how = reap(false);
    return make_error(Errc::io, program + " ended during setup: " +
                                    (how == "exited with status 127" ? "cannot execute it" : how));
  }
  crypto::Result<Ready> ready = decode_ready(packet.bytes);
  if (!ready.ok()) {
    discard(true);
    return make_error(Errc::bad_format, program + ": " + ready.error().message);
  }
  if (!ready->problem.empty()) {
    discard(false);
    return make_error(Errc::io, "the worker refused to start: " + ready->problem);
  }
  const crypto::Sm3Digest expected =
      crypto::Sm3::digest(crypto::ByteView(reinterpret_cast<const std::uint8_t*>(policy_.text.data()), policy_.text.size()));
  if (ready->policy_sm3 != expected) {
    discard(true);
    return make_error(Errc::verify_failed, "the worker loaded another policy than the one given");
  }
  lists_ = std::move(ready->list_digests);
  confinement_ = ready->confinement;
  antivirus_ = ready->antivirus;
  antivirus_loaded_ = ready->antivirus_loaded;
  return {};
}

Examined Worker::examine(Role role, const policy::Policy& policy, std::string_view channel, std::string_view name,
                         int fd, std::uint64_t size) {
  const WorkItem item{std::string(channel), std::string(name), fd, size};
  return std::move(examine_batch(role, policy, std::span<const WorkItem>(&item, 1)).front());
}

// Whether the running worker should be replaced before more objects go to
// it: max_use reached, or half its lifetime CPU budget used (read from
// /proc every 32 objects: the read costs more than a small object).
bool Worker::should_retire() {
  if (used_ >= options_.max_use) return true;
  if (used_ < cpu_checked_at_ + 32) return false;
  cpu_checked_at_ = used_;
  return cpu_seconds_of(pid_) * 1000 > 2.0 * double(options_.timeout_ceiling.count());
}

std::vector<Examined> Worker::examine_batch(Role role, const policy::Policy& policy, std::span<const WorkItem> items) {
  std::vector<Examined> out(items.size());
  // Requests go out ahead of the answers (up to kWindow), so that the
  // worker works while ferryd reads an answer: one round trip per object
  // costs more than a small object's examination. The worker answers in
  // order; the object it is on is always the oldest unanswered one, which
  // is the one a crash or a timeout is charged to. The others in flight
  // are innocent and go again to a fresh worker.
  constexpr std::size_t kWindow = 16;
  struct InFlight {
    std::size_t index;
    std::uint64_t seq;
  };
  std::deque<InFlight> in_flight;
  std::size_t next_send = 0, answered = 0;
  auto started = std::chrono::steady_clock::now();  // when the worker got to the oldest in flight

  // Fails the oldest in flight with `failure`, and puts the rest back in the
  // queue for a fresh worker.
  auto charge_oldest = [&](Examined failure) {
    out[in_flight.front().index] = std::move(failure);
    ++answered;
    in_flight.pop_front();
    if (!in_flight.empty()) next_send = in_flight.front().index;
    in_flight.clear();
  };

  unsigned failed_starts = 0;  // sends that failed on a fresh worker, in a row
  bool retiring = false;       // drain what is in flight, then a fresh worker
  while (answered < items.size()) {
    if (in_flight.empty() && sock_.valid() && (retiring || should_retire())) {
      discard(false);
      retiring = false;
    }
    if (!sock_.valid()) {
      if (crypto::Status s = spawn(); !s.ok()) {
        for (std::size_t i = next_send; i < items.size(); ++i) {
          ++stats_.unavailable;
          out[i] = failed("worker.unavailable",
                          "the inspection worker could not be started, so the object is held: " + s.error().message,
                          s.error().message);
        }
        break;
      }
      // Term lists read from files: the worker must have read what ferryd did.
      std::string changed;
      for (const policy::TermList& l : policy.lists) {
        if (!l.file) continue;
        const std::string want = l.name + "=" + crypto::to_hex(l.file->sm3);
        if (std::find(lists_.begin(), lists_.end(), want) == lists_.end()) {
          changed = "term list '" + l.name + "' (" + l.file->path +
                    ") changed on disk since the policy was loaded; reload the policy";
          break;
        }
      }
      if (!changed.empty()) {
        discard(false);
        for (std::size_t i = next_send; i < items.size(); ++i) {
          ++stats_.unavailable;
          out[i] = failed("worker.unavailable", changed, changed);
        }
        break;
      }
    }
    // Top up the window, never past max_use for this worker.
    bool send_failed = false;
    if (!in_flight.empty() && should_retire()) retiring = true;
    while (!retiring && next_send < items.size() && in_flight.size() < kWindow &&
           used_ + in_flight.size() < options_.max_use) {
      const WorkItem& it = items[next_send];
      Request req;
      req.seq = ++seq_;
      req.role = role;
      req.channel = it.channel;
      req.name = it.name;
      req.size = it.size;
      if (detail::send_packet(sock_.get(), encode(req), {it.fd}) != 0) {
        send_failed = true;
        break;
      }
      if (in_flight.empty()) started = std::chrono::steady_clock::now();
      in_flight.push_back({next_send, req.seq});
      ++next_send;
    }
    if (in_flight.empty()) {
      if (send_failed) {
        // Died before it got a request: nothing to charge; a fresh one,
        // a few times, then the objects are held.
        const std::string how = reap(false);
        if (++failed_starts >= 3) {
          for (std::size_t i = next_send; i < items.size(); ++i) {
            ++stats_.unavailable;
            out[i] = failed("worker.unavailable", "the inspection worker ends before it takes an object: " + how,
                            "worker ends before its first object: " + how);
          }
          break;
        }
        continue;
      }
      discard(false);  // max_use reached with nothing in flight
      continue;
    }
    const WorkItem& oldest = items[in_flight.front().index];
    const auto timeout = timeout_for(oldest.size);
    const auto deadline = started + timeout;
    struct pollfd p{sock_.get(), POLLIN, 0};
    int n;
    do {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      discard(true);
      ++stats_.timeouts;
      const std::string secs =
          std::to_string(timeout.count() / 1000) + "." + std::to_string(timeout.count() % 1000 / 100);
      charge_oldest(failed("worker.timeout",
                           "the inspection worker did not finish this object within " + secs + " s and was killed",
                           "worker timeout on " + oldest.name + " after " + secs + " s"));
      continue;
    }
    detail::Packet packet;
    if (int e = detail::receive_packet(sock_.get(), packet); e != 0) {
      const std::string how = e == ECONNRESET ? reap(false) : "a malformed message (" + errno_text(e) + ")";
      if (e != ECONNRESET) discard(true);
      ++stats_.crashes;
      charge_oldest(failed("worker.crash", "the inspection worker failed on this object: " + how,
                           "worker crash on " + oldest.name + ": " + how));
      continue;
    }
    Examined e = check_answer(role, policy, oldest, in_flight.front().seq, packet);
    if (e.incident) {
      discard(true);
      ++stats_.bad_answers;
      charge_oldest(std::move(e));
      continue;
    }
    ++used_;
    ++stats_.served;
    failed_starts = 0;
    out[in_flight.front().index] = std::move(e);
    ++answered;
    in_flight.pop_front();
    started = std::chrono::steady_clock::now();
  }
  return out;
}

// One answer, checked as if the worker were compromised; a failed check is
// returned as worker.bad_answer with an incident.
Examined Worker::check_answer(Role role, const policy::Policy& policy, const WorkItem& item, std::uint64_t seq,
                              detail::Packet& packet) {
  const auto bad = [&](const std::string& why) {
    return failed("worker.bad_answer", "the inspection worker's answer does not hold up, so the object is held: " + why,
                  "worker bad answer on " + item.name + ": " + why);
  };
  crypto::Result<Answer> a = decode_answer(packet.bytes);
  if (!a.ok()) return bad(a.error().message);
  if (a->seq != seq) return bad("it answers request " + std::to_string(a->seq) + ", not " + std::to_string(seq));
  if (packet.fds.size() != (a->has_output ? 1u : 0u)) return bad("the descriptors do not match the answer");
  for (const WireReason& r : a->reasons) {
    if (!is_token(r.code)) return bad("a reason code that is not a token");
  }
  const policy::Channel* ch = policy.find(item.channel);
  Examined e;
  if (!a->accepted()) {
    a->has_output = false;
    e.answer = std::move(*a);
    return e;
  }
  if (ch == nullptr) return bad("it accepted an object of a channel the policy does not have");
  const std::optional<FileType> type = file_type_named(a->type);
  if (!type) return bad("it accepted an object of type '" + a->type + "'");
  if (!ch->allow_types.empty() &&
      std::find(ch->allow_types.begin(), ch->allow_types.end(), *type) == ch->allow_types.end()) {
    return bad("it accepted a " + a->type + ", which channel '" + ch->name + "' does not allow");
  }
  if (!leads_as(*type, head_of(item.fd, 1024))) {
    return bad("it calls the object a " + a->type + ", and its first bytes say otherwise");
  }
  if (role == Role::receive && a->has_output) return bad("it rebuilt an object on the receiving side");
  if (role == Role::send) {
    if (ch->antivirus == policy::Antivirus::required && a->av != AvVerdict::clean) {
      return bad("it accepted an object the channel requires scanned without a clean verdict");
    }
    if (ch->antivirus != policy::Antivirus::off && a->av == AvVerdict::none) {
      return bad("it gave no antivirus verdict for a channel that scans");
    }
    if (disarm::channel_sanitizes(*ch, *type) && !a->has_output) return bad("it did not rebuild a " + a->type + " the channel sanitizes");
  }
  if (a->has_output) {
    fs::Fd out = std::move(packet.fds.front());
    struct stat st;
    if (::fstat(out.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != a->output_size) {
      return bad("the rebuilt object's size is not what it said");
    }
    // Its own memory file, sealed by the worker against change.
    const int seals = ::fcntl(out.get(), F_GET_SEALS);
    if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) {
      return bad("the rebuilt object is not a sealed memory file");
    }
    if (!leads_as(*type, head_of(out.get(), 1024))) {
      return bad("the rebuilt object's first bytes are not those of a " + a->type);
    }
    crypto::Result<crypto::Sm3Digest> d = digest_of(out.get(), a->output_size);
    if (!d.ok()) return bad(d.error().message);
    if (*d != a->output_sm3) return bad("the rebuilt object's SM3 is not the one it claimed");
    if (a->output_size > ch->max_size) {
      // Not the worker's fault: a rebuild can grow an object.
      a->reasons.push_back({"size.too_large", "the rebuilt object is " + std::to_string(a->output_size) +
                                                  " bytes, more than max_size " + std::to_string(ch->max_size) +
                                                  " of channel '" + ch->name + "'"});
      a->has_output = false;
    } else {
      e.output = std::move(out);
    }
  }
  e.answer = std::move(*a);
  return e;
}

}  // namespace ferry::sandbox

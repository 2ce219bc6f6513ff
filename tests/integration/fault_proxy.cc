#include "tests/integration/fault_proxy.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>
#include <vector>

namespace ferry::test {
namespace {

using Clock = std::chrono::steady_clock;
using Frame = std::vector<std::uint8_t>;

constexpr std::size_t kReadChunk = 256 * 1024;
// Type codes of sealed frames start here (docs/link-protocol.md §2.2).
constexpr std::uint8_t kFirstSealedType = 0x10;
constexpr std::size_t kTypeOffset = 5;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

bool fill_address(const std::string& path, sockaddr_un& addr) {
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

std::string line(const char* name, const FaultDirectionStats& d) {
  return std::string(name) + ": in " + std::to_string(d.frames_in) + " frames / " + std::to_string(d.bytes_in) +
         " B, out " + std::to_string(d.frames_out) + ", dropped " + std::to_string(d.dropped) + ", duplicated " +
         std::to_string(d.duplicated) + ", reordered " + std::to_string(d.reordered) + " (released by timer " +
         std::to_string(d.released_by_timer) + "), corrupted " + std::to_string(d.corrupted) + " (sealed " +
         std::to_string(d.corrupted_sealed) + ", copies out " + std::to_string(d.corrupted_copies_out) +
         "), held frames lost in cuts " + std::to_string(d.lost_in_cut);
}

}  // namespace

std::string FaultProxyStats::to_string() const {
  return line("outer->inner", outer_to_inner) + "\n" + line("inner->outer", inner_to_outer) + "\naccepted " +
         std::to_string(accepted) + ", replaced " + std::to_string(replaced) + ", connect failures " +
         std::to_string(connect_failures) + ", cuts " + std::to_string(cuts) + ", closed by a side " +
         std::to_string(peer_closed) + ", oversized " + std::to_string(oversized) +
         (timed_out ? ", TIMED OUT" : "");
}

// Everything the proxy thread owns. One session at a time: the accepted
// outer connection and the proxy's connection to the inner side.
struct FaultProxy::Loop {
  struct Held {
    Frame frame;
    int copies = 1;
    bool corrupt = false;
    unsigned after = 1;  // later frames of this direction still to pass it
    Clock::time_point deadline;
  };

  // One direction: frames read from `from`, written to `to`.
  struct Direction {
    int* from = nullptr;
    int* to = nullptr;
    Frame in;
    Frame out;
    std::size_t out_pos = 0;
    std::deque<Held> held;
    FaultDirectionStats* stats = nullptr;

    std::size_t pending() const { return out.size() - out_pos; }
  };

  Loop(const FaultProxyOptions& o, int listen, int wake, const std::atomic<bool>& stop)
      : opts(o), listen_fd(listen), wake_fd(wake), stopping(stop), rng(o.seed) {
    dirs[0].from = &outer_fd;
    dirs[0].to = &inner_fd;
    dirs[0].stats = &stats.outer_to_inner;
    dirs[1].from = &inner_fd;
    dirs[1].to = &outer_fd;
    dirs[1].stats = &stats.inner_to_outer;
  }
  ~Loop() { end_session(); }

  bool connected() const { return outer_fd >= 0; }

  bool chance(double p) {
    if (p <= 0) return false;
    return std::bernoulli_distribution(std::min(p, 1.0))(rng);
  }

  void end_session() {
    close_fd(outer_fd);
    close_fd(inner_fd);
    for (Direction& d : dirs) {
      d.stats->lost_in_cut += d.held.size();
      d.held.clear();
      d.in.clear();
      d.out.clear();
      d.out_pos = 0;
    }
  }

  void accept_new() {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN or a transient error: poll again
      ++stats.accepted;
      if (connected()) {
        ++stats.replaced;
        end_session();
      }
      int target = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_un addr;
      if (target < 0 || !fill_address(opts.target_path, addr) ||
          ::connect(target, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        // The inner side is not listening (yet): close the outer connection;
        // it reconnects with backoff.
        ++stats.connect_failures;
        if (target >= 0) ::close(target);
        ::close(fd);
        continue;
      }
      outer_fd = fd;
      inner_fd = target;
      connected_at = Clock::now();
    }
  }

  void emit(Direction& d, const Frame& frame, int copies, bool corrupt) {
    const auto n = static_cast<std::uint32_t>(frame.size());
    for (int c = 0; c < copies; ++c) {
      const std::uint8_t prefix[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                      static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
      d.out.insert(d.out.end(), prefix, prefix + 4);
      d.out.insert(d.out.end(), frame.begin(), frame.end());
      ++d.stats->frames_out;
      if (corrupt) ++d.stats->corrupted_copies_out;
    }
  }

  // A later frame of this direction has passed the held ones (all but the
  // newest `skip_last`): count down and send those whose turn has come.
  void pass_held(Direction& d, std::size_t skip_last) {
    const std::size_t n = d.held.size() - std::min(skip_last, d.held.size());
    std::deque<Held> keep;
    for (std::size_t i = 0; i < d.held.size(); ++i) {
      Held& h = d.held[i];
      if (i < n && --h.after == 0) {
        emit(d, h.frame, h.copies, h.corrupt);
      } else {
        keep.push_back(std::move(h));
      }
    }
    d.held.swap(keep);
  }

  void release_due(Clock::time_point now) {
    for (Direction& d : dirs) {
      while (!d.held.empty() && d.held.front().deadline <= now) {
        Held h = std::move(d.held.front());
        d.held.pop_front();
        ++d.stats->released_by_timer;
        emit(d, h.frame, h.copies, h.corrupt);
      }
    }
  }

  void on_frame(Direction& d, Frame frame) {
    FaultDirectionStats& st = *d.stats;
    ++st.frames_in;
    st.bytes_in += frame.size();
    if (chance(opts.drop)) {
      ++st.dropped;
      pass_held(d, 0);
      return;
    }
    bool corrupt = false;
    if (chance(opts.corrupt) && !frame.empty()) {
      corrupt = true;
      ++st.corrupted;
      if (frame.size() > kTypeOffset && frame[kTypeOffset] >= kFirstSealedType) ++st.corrupted_sealed;
      const std::size_t at = static_cast<std::size_t>(rng() % frame.size());
      frame[at] = static_cast<std::uint8_t>(frame[at] ^ static_cast<std::uint8_t>(1 + rng() % 255));
    }
    int copies = 1;
    if (chance(opts.duplicate)) {
      copies = 2;
      ++st.duplicated;
    }
    if (chance(opts.reorder)) {
      ++st.reordered;
      Held h;
      h.frame = std::move(frame);
      h.copies = copies;
      h.corrupt = corrupt;
      h.after = 1 + static_cast<unsigned>(rng() % std::max(1u, opts.reorder_depth));
      h.deadline = Clock::now() + opts.reorder_max_delay;
      d.held.push_back(std::move(h));
      pass_held(d, 1);
      return;
    }
    emit(d, frame, copies, corrupt);
    pass_held(d, 0);
  }

  // False when the session ended.
  bool read_from(Direction& d) {
    const std::size_t old = d.in.size();
    d.in.resize(old + kReadChunk);
    const ssize_t n = ::recv(*d.from, d.in.data() + old, kReadChunk, MSG_DONTWAIT);
    if (n < 0) {
      d.in.resize(old);
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
      ++stats.peer_closed;
      end_session();
      return false;
    }
    if (n == 0) {
      ++stats.peer_closed;
      end_session();
      return false;
    }
    d.in.resize(old + static_cast<std::size_t>(n));
    std::size_t pos = 0;
    while (d.in.size() - pos >= 4) {
      const std::uint8_t* h = d.in.data() + pos;
      const std::size_t len = std::size_t{h[0]} << 24 | std::size_t{h[1]} << 16 | std::size_t{h[2]} << 8 | std::size_t{h[3]};
      if (len > opts.max_frame) {
        ++stats.oversized;
        end_session();
        return false;
      }
      if (d.in.size() - pos - 4 < len) break;
      const auto first = d.in.begin() + static_cast<std::ptrdiff_t>(pos + 4);
      on_frame(d, Frame(first, first + static_cast<std::ptrdiff_t>(len)));
      pos += 4 + len;
    }
    d.in.erase(d.in.begin(), d.in.begin() + static_cast<std::ptrdiff_t>(pos));
    return true;
  }

  // False when the session ended.
  bool flush(Direction& d) {
    while (d.pending() > 0) {
      const ssize_t n = ::send(*d.to, d.out.data() + d.out_pos, d.pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        ++stats.peer_closed;
        end_session();
        return false;
      }
      d.out_pos += static_cast<std::size_t>(n);
    }
    if (d.out_pos == d.out.size()) {
      d.out.clear();
      d.out_pos = 0;
    } else if (d.out_pos > (1u << 20)) {
      d.out.erase(d.out.begin(), d.out.begin() + static_cast<std::ptrdiff_t>(d.out_pos));
      d.out_pos = 0;
    }
    return true;
  }

  bool flush_all() { return flush(dirs[0]) && flush(dirs[1]); }

  void run() {
    const Clock::time_point give_up = Clock::now() + opts.max_lifetime;
    while (!stopping.load()) {
      Clock::time_point now = Clock::now();
      if (now >= give_up) {
        stats.timed_out = true;
        break;
      }
      if (connected() && opts.cut_every.count() > 0 && now - connected_at >= opts.cut_every) {
        ++stats.cuts;
        end_session();
      }
      if (connected()) {
        release_due(now);
        flush_all();
      }
      Clock::time_point wake_at = std::min(give_up, now + std::chrono::seconds(1));
      if (connected()) {
        if (opts.cut_every.count() > 0) wake_at = std::min(wake_at, connected_at + opts.cut_every);
        for (const Direction& d : dirs) {
          if (!d.held.empty()) wake_at = std::min(wake_at, d.held.front().deadline);
        }
      }
      pollfd fds[4];
      nfds_t nfds = 0;
      fds[nfds++] = pollfd{wake_fd, POLLIN, 0};
      fds[nfds++] = pollfd{listen_fd, POLLIN, 0};
      if (connected()) {
        // dirs[0] reads the outer fd and writes the inner one; dirs[1] the reverse.
        short outer_ev = 0;
        short inner_ev = 0;
        if (dirs[0].pending() < opts.max_buffered) outer_ev = static_cast<short>(outer_ev | POLLIN);
        if (dirs[1].pending() < opts.max_buffered) inner_ev = static_cast<short>(inner_ev | POLLIN);
        if (dirs[1].pending() > 0) outer_ev = static_cast<short>(outer_ev | POLLOUT);
        if (dirs[0].pending() > 0) inner_ev = static_cast<short>(inner_ev | POLLOUT);
        fds[nfds++] = pollfd{outer_fd, outer_ev, 0};
        fds[nfds++] = pollfd{inner_fd, inner_ev, 0};
      }
      publish();  // what this turn did is visible while the thread waits
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake_at - now).count();
      const int rc = ::poll(fds, nfds, static_cast<int>(std::clamp<long long>(wait, 0, 1000)));
      if (rc < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[0].revents != 0) {
        std::uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wake_fd, &v, sizeof v);
        continue;  // the loop condition sees stopping
      }
      if (nfds == 4) {
        // Readable or hung up: recv tells which (and reads what is left first).
        const short in_mask = POLLIN | POLLHUP | POLLERR;
        if ((fds[2].revents & in_mask) != 0 && connected()) read_from(dirs[0]);
        if ((fds[3].revents & in_mask) != 0 && connected()) read_from(dirs[1]);
        if (connected()) flush_all();
      }
      if (fds[1].revents != 0) accept_new();
    }
    end_session();
    publish();
  }

  void publish() {
    if (!sink_mu) return;
    std::lock_guard lock(*sink_mu);
    *sink = stats;
  }

  const FaultProxyOptions& opts;
  int listen_fd;
  int wake_fd;
  const std::atomic<bool>& stopping;
  std::mt19937_64 rng;
  FaultProxyStats stats;
  int outer_fd = -1;
  int inner_fd = -1;
  Clock::time_point connected_at{};
  Direction dirs[2];
  std::mutex* sink_mu = nullptr;
  FaultProxyStats* sink = nullptr;
};

FaultProxy::FaultProxy(FaultProxyOptions options) : options_(std::move(options)) {}

FaultProxy::~FaultProxy() { stop(); }

bool FaultProxy::start(std::string* error) {
  auto fail = [&](const std::string& why) {
    if (error) *error = why + (errno != 0 ? std::string(": ") + std::strerror(errno) : "");
    close_fd(listen_fd_);
    close_fd(wake_fd_);
    return false;
  };
  if (thread_.joinable() || listen_fd_ >= 0) return fail("already started");
  errno = 0;
  sockaddr_un addr;
  if (!fill_address(options_.listen_path, addr)) return fail("bad listen path '" + options_.listen_path + "'");
  sockaddr_un target;
  if (!fill_address(options_.target_path, target)) return fail("bad target path '" + options_.target_path + "'");
  struct stat st;
  if (::lstat(options_.listen_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(options_.listen_path.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return fail("socket");
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail("bind " + options_.listen_path);
  if (::listen(listen_fd_, 8) != 0) return fail("listen");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return fail("eventfd");
  stopping_ = false;
  running_ = true;
  thread_ = std::thread([this] { run(); });
  return true;
}

void FaultProxy::run() {
  try {
    Loop loop(options_, listen_fd_, wake_fd_, stopping_);
    loop.sink_mu = &mu_;
    loop.sink = &stats_;
    loop.run();
  } catch (...) {
    // Out of memory or the like: the proxy just ends; the test sees no traffic.
  }
  running_ = false;
}

void FaultProxy::stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t w = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) {
    close_fd(listen_fd_);
    ::unlink(options_.listen_path.c_str());
  }
  close_fd(wake_fd_);
}

FaultProxyStats FaultProxy::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace ferry::test

// The exporter's thread: tail the audit directory, send, remember how far.
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "crypto/bytes.h"
#include "ferry/fs/durable_file.h"
#include "ferry/fs/fd.h"
#include "ferry/telemetry/src/audit_tail.h"
#include "ferry/telemetry/syslog.h"

namespace ferry::telemetry {

namespace {

using crypto::Errc;
using crypto::make_error;
using Clock = std::chrono::steady_clock;

// Blocking calls are cut into slices this long so stop() is noticed soon.
constexpr int kSliceMs = 100;
constexpr std::string_view kCursorName = "export.cursor";
// Records sent per turn before the cursor and the stop flag are looked at.
constexpr int kBatch = 256;

struct Cursor {
  std::uint64_t seq = 0;
  std::string hash{audit::kGenesisHash};
};

// "<seq> <64 hex>\n": the last record handed to the target.
std::string format_cursor(const Cursor& c) { return std::to_string(c.seq) + " " + c.hash + "\n"; }

crypto::Result<Cursor> read_cursor(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return Cursor{};
  crypto::Result<crypto::Bytes> bytes = fs::read_file(path, 256);
  if (!bytes) return make_error(Errc::io, path + ": " + bytes.error().message);
  const std::string text(bytes->begin(), bytes->end());
  Cursor c;
  const std::size_t sp = text.find(' ');
  const auto bad = [&] {
    return make_error(Errc::bad_format, path + ": not \"<seq> <64 hex digits>\\n\" (remove it to export from the start)");
  };
  if (sp == std::string::npos || text.size() != sp + 1 + 64 + 1 || text.back() != '\n') return bad();
  const auto [end, ec] = std::from_chars(text.data(), text.data() + sp, c.seq);
  if (sp == 0 || ec != std::errc() || end != text.data() + sp) return bad();
  c.hash = text.substr(sp + 1, 64);
  for (char h : c.hash) {
    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'))) return bad();
  }
  return c;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

struct SyslogExporter::Impl {
  Impl(std::string d, SyslogTarget t, Options o, Cursor c)
      : dir(std::move(d)), target(std::move(t)), opt(std::move(o)), tail(dir), confirmed(c), written(c) {
    if (c.seq != 0) tail.seek_after(c.seq, c.hash);
    exported.store(c.seq);
    backoff = opt.backoff_initial;
  }

  const std::string dir;
  const SyslogTarget target;
  const Options opt;
  bool tcp() const { return target.transport == SyslogTarget::Transport::tcp; }

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // guarded by mu
  std::uint64_t limit = 0;  // guarded by mu
  Stats stats;  // guarded by mu
  std::atomic<std::uint64_t> exported{0};
  std::atomic<bool> stop_flag{false};
  std::thread thread;

  // The thread's own state.
  AuditTail tail;
  Cursor confirmed;  // the last record the target has for sure (see syslog.h)
  Cursor written;    // what export.cursor says
  std::uint64_t since_written = 0;
  Clock::time_point written_at = Clock::now();
  fs::Fd sock;
  bool ever_connected = false;
  std::chrono::milliseconds backoff;
  // TCP: frames written whose bytes the peer has not all acknowledged yet.
  struct InFlight {
    std::uint64_t end_byte;
    Cursor record;
  };
  std::deque<InFlight> in_flight;
  std::uint64_t bytes_written = 0;

  void run();
  bool connect_target();
  bool send_message(const std::string& bytes);
  void drop_connection(const std::string& why);
  void settle_acknowledged();
  void maybe_write_cursor(bool force);
  bool peer_closed();
  void wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, d, [&] { return stopping; });
  }
  void note_error(const std::string& e, bool count) {
    std::lock_guard lock(mu);
    stats.last_error = e;
    if (count) ++stats.send_errors;
  }
};

bool SyslogExporter::Impl::connect_target() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = tcp() ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(target.port);
  if (const int rc = ::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    note_error("resolve " + target.host + ": " + ::gai_strerror(rc), true);
    return false;
  }
  std::string error = "no address for " + target.host;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fs::Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (!fd.valid()) {
      error = errno_text("socket");
      continue;
    }
    // UDP: connect() fixes the peer so send() reports ICMP errors (RFC 5426
    // needs nothing more). TCP: a non-blocking connect we wait on in slices.
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        error = errno_text("connect");
        continue;
      }
      const Clock::time_point deadline = Clock::now() + opt.connect_timeout;
      int so_error = ETIMEDOUT;
      while (!stop_flag.load() && Clock::now() < deadline) {
        pollfd p{fd.get(), POLLOUT, 0};
        if (::poll(&p, 1, kSliceMs) > 0) {
          socklen_t len = sizeof so_error;
          ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
          break;
        }
      }
      if (so_error != 0) {
        errno = so_error;
        error = errno_text("connect");
        continue;
      }
    }
    sock = std::move(fd);
    break;
  }
  ::freeaddrinfo(found);
  if (!sock.valid()) {
    note_error(target.host + ":" + port + ": " + error, true);
    return false;
  }
  bytes_written = 0;
  in_flight.clear();
  std::lock_guard lock(mu);
  stats.connected = true;
  if (ever_connected && tcp()) ++stats.reconnects;
  ever_connected = true;
  return true;
}

void SyslogExporter::Impl::drop_connection(const std::string& why) {
  sock.reset();
  in_flight.clear();
  note_error(why, true);
  std::lock_guard lock(mu);
  stats.connected = false;
}

bool SyslogExporter::Impl::send_message(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(sock.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // A slow receiver: wait, but not past stop().
      if (stop_flag.load()) return false;
      pollfd p{sock.get(), POLLOUT, 0};
      ::poll(&p, 1, kSliceMs);
      continue;
    }
    return false;
  }
  return true;
}

// Moves `confirmed` over every frame whose last byte the peer's TCP has
// acknowledged: SIOCOUTQ counts bytes sent but not yet acknowledged (tcp(7)).
void SyslogExporter::Impl::settle_acknowledged() {
  if (!tcp() || !sock.valid() || in_flight.empty()) return;
  int unacked = 0;
  if (::ioctl(sock.get(), SIOCOUTQ, &unacked) != 0) return;
  const std::uint64_t acked = bytes_written - static_cast<std::uint64_t>(unacked);
  bool moved = false;
  while (!in_flight.empty() && in_flight.front().end_byte <= acked) {
    confirmed = std::move(in_flight.front().record);
    in_flight.pop_front();
    ++since_written;
    moved = true;
  }
  if (moved) {
    exported.store(confirmed.seq);
    backoff = opt.backoff_initial;
  }
}

void SyslogExporter::Impl::maybe_write_cursor(bool force) {
  if (confirmed.seq == written.seq) return;
  if (!force && since_written < opt.cursor_records && Clock::now() - written_at < opt.cursor_interval) return;
  const std::string text = format_cursor(confirmed);
  crypto::Status s = fs::replace_file(dir + "/" + std::string(kCursorName), crypto::as_bytes(text), 0640);
  written_at = Clock::now();
  if (!s) {
    note_error("write " + std::string(kCursorName) + ": " + s.error().message, false);
    return;
  }
  written = confirmed;
  since_written = 0;
}

// Syslog receivers send nothing back (RFC 6587 §3.4); a readable socket
// means the peer closed or reset it, which we want to know before the next
// record rather than after it.
bool SyslogExporter::Impl::peer_closed() {
  char scratch[512];
  for (;;) {
    const ssize_t n = ::recv(sock.get(), scratch, sizeof scratch, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return true;
    if (errno == EINTR) continue;
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

void SyslogExporter::Impl::run() {
  for (;;) {
    std::uint64_t lim;
    {
      std::lock_guard lock(mu);
      if (stopping) break;
      lim = limit;
    }
    if (!sock.valid()) {
      if (!connect_target()) {
        wait_for(backoff);
        backoff = std::min(backoff * 2, opt.backoff_max);
        continue;
      }
      // Whatever went out on a broken connection but was not acknowledged
      // is sent again (at most duplicates, never gaps).
      if (tcp()) tail.seek_after(confirmed.seq, confirmed.hash);
    }
    bool progressed = false;
    std::uint64_t skipped = 0;
    for (int i = 0; i < kBatch && !stop_flag.load(); ++i) {
      std::optional<AuditTail::Item> item = tail.next(lim, skipped);
      if (!item) break;
      std::string message;
      bool cut = false;
      if (tcp()) {
        message = frame_octet_counted(
            format_rfc5424(item->record, item->line, opt.hostname, opt.app_name, opt.procid));
      } else {
        message = format_rfc5424_datagram(item->record, item->line, opt.hostname, opt.app_name, opt.procid,
                                          opt.max_datagram);
        cut = !std::string_view(message).ends_with(item->line);
      }
      bool ok = send_message(message);
      if (!ok && !tcp() && errno == ECONNREFUSED) ok = send_message(message);  // the error of an earlier datagram
      if (!ok && stop_flag.load()) break;  // cut short by stop(): not handed, sent again next time
      Cursor handed{item->record.seq, item->record.hash};
      if (tcp()) {
        if (!ok) {
          const std::string why = errno_text("send");
          drop_connection(why);
          wait_for(backoff);
          backoff = std::min(backoff * 2, opt.backoff_max);
          break;
        }
        bytes_written += message.size();
        in_flight.push_back({bytes_written, std::move(handed)});
      } else {
        if (!ok) note_error(errno_text("send"), true);
        confirmed = std::move(handed);
        exported.store(confirmed.seq);
        ++since_written;
      }
      progressed = true;
      std::lock_guard lock(mu);
      if (ok) ++stats.sent;
      if (cut) ++stats.truncated;
    }
    if (skipped != 0) {
      std::lock_guard lock(mu);
      stats.skipped += skipped;
    }
    if (const std::optional<std::uint64_t> differs = tail.take_mismatch()) {
      // Export goes on: refusing would blind the SIEM exactly when the trail
      // is in question. Saying so is ours; proving what changed is verify's.
      note_error("audit record " + std::to_string(*differs) +
                     " is not the one export.cursor names: the trail was replaced or altered; "
                     "exporting from the record after it",
                 false);
    }
    settle_acknowledged();
    maybe_write_cursor(false);
    if (!progressed && sock.valid()) {
      if (tcp() && peer_closed()) {
        settle_acknowledged();
        drop_connection("the syslog receiver closed the connection");
        wait_for(backoff);
        backoff = std::min(backoff * 2, opt.backoff_max);
        continue;
      }
      wait_for(in_flight.empty() ? opt.poll_interval : std::chrono::milliseconds(kSliceMs / 2));
    }
  }
  // Loopback or LAN acknowledgements take well under this; what is still
  // unacknowledged after it is sent again next time (a duplicate, not a gap).
  for (int i = 0; i < 5 && sock.valid() && !in_flight.empty(); ++i) {
    settle_acknowledged();
    if (!in_flight.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(kSliceMs / 5));
  }
  maybe_write_cursor(true);
  sock.reset();
}

SyslogExporter::SyslogExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

crypto::Result<std::unique_ptr<SyslogExporter>> SyslogExporter::start(std::string audit_dir, SyslogTarget target,
                                                                       Options options) {
  assert(options.max_datagram >= 512 && options.backoff_initial.count() > 0);
  crypto::Result<Cursor> cursor = read_cursor(audit_dir + "/" + std::string(kCursorName));
  if (!cursor) return cursor.error();
  auto impl = std::make_unique<Impl>(std::move(audit_dir), std::move(target), std::move(options), *cursor);
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<SyslogExporter>(new SyslogExporter(std::move(impl)));
}

SyslogExporter::~SyslogExporter() { stop(); }

void SyslogExporter::advance(std::uint64_t durable_seq) {
  {
    std::lock_guard lock(impl_->mu);
    if (durable_seq <= impl_->limit) return;
    impl_->limit = durable_seq;
  }
  impl_->cv.notify_all();
}

std::uint64_t SyslogExporter::exported_seq() const { return impl_->exported.load(); }

SyslogExporter::Stats SyslogExporter::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

void SyslogExporter::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->stop_flag.store(true);
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace ferry::telemetry

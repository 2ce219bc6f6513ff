// The exporter against syslog receivers the test runs on 127.0.0.1: every
// record arrives, in order, with its seq and hash; nothing beyond advance()
// leaves; a TCP outage and an exporter restart lose nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "ferry/audit/segments.h"
#include "ferry/telemetry/syslog.h"

namespace ferry::telemetry {
namespace {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;

// Polls `done` until it holds or 10 s pass.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (fsys::temp_directory_path() / "ferry-syslog-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() { fsys::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes an audit trail the way the log does: chained records, appended to
// segment files, a new segment every `per_segment` records.
class TrailWriter {
 public:
  TrailWriter(std::string dir, std::uint64_t per_segment) : dir_(std::move(dir)), per_segment_(per_segment) {}

  void append(std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
      audit::Record r;
      r.seq = ++seq_;
      r.ts = "2026-11-27T02:03:04.123Z";
      r.side = "outer";
      r.severity = "info";
      r.event = "object.accepted";
      r.fields = {{"channel", "docs"}, {"name", "file-" + std::to_string(r.seq) + padding_ + ".pdf"}};
      r.prev = prev_;
      const std::string line = audit::format_record(r);
      prev_ = r.hash;
      hashes_.push_back(r.hash);
      lines_.push_back(line);
      if ((r.seq - 1) % per_segment_ == 0) segment_ = dir_ + "/" + audit::segment_name(r.seq);
      std::ofstream(segment_, std::ios::app) << line << "\n";
    }
  }
  void append_garbage(std::string_view text) { std::ofstream(segment_, std::ios::app) << text; }
  // Makes the next records' lines longer by `bytes`.
  void pad_names(std::size_t bytes) { padding_ = std::string(bytes, 'p'); }
  const std::string& hash(std::uint64_t seq) const { return hashes_.at(seq - 1); }
  const std::string& line(std::uint64_t seq) const { return lines_.at(seq - 1); }
  std::uint64_t last() const { return seq_; }

 private:
  std::string dir_;
  std::uint64_t per_segment_;
  std::uint64_t seq_ = 0;
  std::string prev_{audit::kGenesisHash};
  std::string segment_;
  std::vector<std::string> hashes_;
  std::vector<std::string> lines_;
  std::string padding_;
};

struct Received {
  std::uint64_t seq;
  std::string hash;
  std::string msg;  // after the BOM: the record line
  std::string whole;
};

// seq, hash and MSG out of our own RFC 5424 messages.
Received parse_message(std::string_view m) {
  Received r{0, "", "", std::string(m)};
  const std::size_t s = m.find(" seq=\"");
  const std::size_t h = m.find(" hash=\"");
  const std::size_t b = m.find("] \xEF\xBB\xBF");
  if (s == std::string_view::npos || h == std::string_view::npos || b == std::string_view::npos) return r;
  std::from_chars(m.data() + s + 6, m.data() + m.size(), r.seq);
  r.hash = std::string(m.substr(h + 7, 64));
  r.msg = std::string(m.substr(b + 5));
  return r;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::uint16_t bound_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

class UdpSink {
 public:
  UdpSink() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const sockaddr_in a = loopback(0);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    port_ = bound_port(fd_);
  }
  ~UdpSink() { ::close(fd_); }
  std::uint16_t port() const { return port_; }
  // Datagrams until `count` have come or `limit` passes.
  std::vector<Received> receive(std::size_t count, std::chrono::milliseconds limit) {
    std::vector<Received> out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) out.push_back(parse_message(std::string_view(buf, static_cast<std::size_t>(n))));
    }
    return out;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A TCP syslog receiver (RFC 6587 octet counting) on its own thread.
class TcpSink {
 public:
  explicit TcpSink(std::uint16_t port = 0) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in a = loopback(port);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    ::listen(listen_fd_, 8);
    port_ = bound_port(listen_fd_);
    thread_ = std::thread([this] { loop(); });
  }
  ~TcpSink() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    if (conn_fd_ >= 0) ::close(conn_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<Received> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::size_t size() const { return messages().size(); }
  bool framing_ok() const { return framing_ok_; }
  // A receiver restarting gracefully: after `n` messages it stops listening,
  // closes its sending half, reads what the exporter still sends until the
  // exporter notices and closes, and is gone (done()).
  void leave_after(std::size_t n) { leave_after_ = n; }
  bool done() const { return done_; }

 private:
  void loop() {
    while (!stop_ && !done_) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {conn_fd_, POLLIN, 0}};
      if (::poll(p, conn_fd_ >= 0 ? 2 : 1, 20) <= 0) continue;
      if (p[0].revents & POLLIN) {
        const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          if (conn_fd_ >= 0) ::close(conn_fd_);
          conn_fd_ = c;
          buffer_.clear();
        }
        continue;
      }
      if (conn_fd_ >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[65536];
        const ssize_t n = ::recv(conn_fd_, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(conn_fd_);
          conn_fd_ = -1;
          if (leaving_) done_ = true;
          continue;
        }
        buffer_.append(buf, static_cast<std::size_t>(n));
        take_frames();
        if (leave_after_ != 0 && !leaving_ && size() >= leave_after_) {
          // Closing the listener first: a reconnect must be refused, not
          // queued on a listener about to go (which would drop it, and what
          // it sent, with a reset).
          leaving_ = true;
          ::close(listen_fd_);
          listen_fd_ = -1;
          ::shutdown(conn_fd_, SHUT_WR);
        }
      }
    }
  }
  // "MSG-LEN SP SYSLOG-MSG" (RFC 6587 §3.4.1).
  void take_frames() {
    for (;;) {
      const std::size_t sp = buffer_.find(' ');
      if (sp == std::string::npos) return;
      std::size_t len = 0;
      const auto [end, ec] = std::from_chars(buffer_.data(), buffer_.data() + sp, len);
      if (sp == 0 || ec != std::errc() || end != buffer_.data() + sp) {
        framing_ok_ = false;
        buffer_.clear();
        return;
      }
      if (buffer_.size() < sp + 1 + len) return;
      Received r = parse_message(std::string_view(buffer_).substr(sp + 1, len));
      if (r.seq == 0) framing_ok_ = false;
      buffer_.erase(0, sp + 1 + len);
      std::lock_guard lock(mu_);
      messages_.push_back(std::move(r));
    }
  }

  int listen_fd_ = -1;
  int conn_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> framing_ok_{true};
  std::atomic<std::size_t> leave_after_{0};
  bool leaving_ = false;
  std::atomic<bool> done_{false};
  std::thread thread_;
  std::string buffer_;
  mutable std::mutex mu_;
  std::vector<Received> messages_;
};

SyslogExporter::Options fast_options() {
  SyslogExporter::Options o;
  o.hostname = "gw-test";
  o.app_name = "ferryd";
  o.procid = 1;
  o.backoff_initial = 50ms;
  o.backoff_max = 200ms;
  o.poll_interval = 20ms;
  return o;
}

SyslogTarget target(SyslogTarget::Transport transport, std::uint16_t port) {
  SyslogTarget t;
  t.transport = transport;
  t.host = "127.0.0.1";
  t.port = port;
  return t;
}

std::unique_ptr<SyslogExporter> start(const std::string& dir, const SyslogTarget& t,
                                      SyslogExporter::Options o = fast_options()) {
  crypto::Result<std::unique_ptr<SyslogExporter>> e = SyslogExporter::start(dir, t, std::move(o));
  EXPECT_TRUE(e) << e.error().message;
  return e ? std::move(e).value() : nullptr;
}

// Every seq from `from` to `to` is in `got` with the trail's hash, and the
// seqs never go down.
void expect_in_order(const std::vector<Received>& got, const TrailWriter& trail, std::uint64_t from,
                     std::uint64_t to) {
  std::uint64_t last = 0;
  std::vector<bool> seen(to + 1, false);
  for (const Received& r : got) {
    ASSERT_GT(r.seq, last) << "out of order or duplicated within one connection";
    last = r.seq;
    ASSERT_LE(r.seq, to);
    EXPECT_EQ(r.hash, trail.hash(r.seq)) << "seq " << r.seq;
    seen[r.seq] = true;
  }
  for (std::uint64_t s = from; s <= to; ++s) EXPECT_TRUE(seen[s]) << "seq " << s << " never arrived";
}

TEST(SyslogExporter, UdpDeliversEveryRecordInOrderAcrossSegments) {
  TempDir dir;
  TrailWriter trail(dir.path(), 7);
  trail.append(40);
  UdpSink sink;
  auto exporter = start(dir.path(), target(SyslogTarget::Transport::udp, sink.port()));
  ASSERT_TRUE(exporter);
  exporter->advance(40);
  const std::vector<Received> got = sink.receive(40, 10s);
  ASSERT_EQ(got.size(), 40u);
  expect_in_order(got, trail, 1, 40);
  EXPECT_TRUE(got[0].msg.starts_with(R"({"seq":1,)")) << got[0].msg;
  EXPECT_TRUE(eventually([&] { return exporter->exported_seq() == 40; }));
  EXPECT_EQ(exporter->stats().sent, 40u);
}

TEST(SyslogExporter, UdpTruncatesAnOverlongRecordAndSaysSo) {
  TempDir dir;
  TrailWriter trail(dir.path(), 100);
  trail.pad_names(3000);
  trail.append(1);
  trail.pad_names(0);
  trail.append(1);
  UdpSink sink;
  auto exporter = start(dir.path(), target(SyslogTarget::Transport::udp, sink.port()));
  ASSERT_TRUE(exporter);
  exporter->advance(2);
  const std::vector<Received> got = sink.receive(2, 10s);
  ASSERT_EQ(got.size(), 2u);
  // The default limit is RFC 5426 §3.2's 2048 octets: seq and hash arrive,
  // the line is cut and the cut is declared.
  EXPECT_EQ(got[0].seq, 1u);
  EXPECT_EQ(got[0].hash, trail.hash(1));
  EXPECT_LE(got[0].whole.size(), 2048u);
  EXPECT_NE(got[0].whole.find(" truncated=\"" + std::to_string(trail.line(1).size()) + "\"]"), std::string::npos);
  EXPECT_LT(got[0].msg.size(), trail.line(1).size());
  EXPECT_TRUE(trail.line(1).starts_with(got[0].msg));
  EXPECT_EQ(got[1].msg, trail.line(2));
  EXPECT_EQ(got[1].whole.find("truncated="), std::string::npos);
  EXPECT_TRUE(eventually([&] { return exporter->stats().truncated == 1; }));
}

TEST(SyslogExporter, TcpDeliversEveryRecordAndSkipsLinesThatAreNotRecords) {
  TempDir dir;
  TrailWriter trail(dir.path(), 25);
  trail.append(30);
  trail.append_garbage("{\"seq\":31,\"this is\":\"not a record\"}\n");
  trail.append(30);  // seqs 31..60: 31 is the real one
  TcpSink sink;
  auto exporter = start(dir.path(), target(SyslogTarget::Transport::tcp, sink.port()));
  ASSERT_TRUE(exporter);
  exporter->advance(60);
  ASSERT_TRUE(eventually([&] { return sink.size() >= 60; })) << sink.size();
  expect_in_order(sink.messages(), trail, 1, 60);
  EXPECT_TRUE(sink.framing_ok());
  EXPECT_TRUE(eventually([&] { return exporter->exported_seq() == 60; }));
  const SyslogExporter::Stats st = exporter->stats();
  EXPECT_EQ(st.skipped, 1u);
  EXPECT_TRUE(st.connected);
  EXPECT_EQ(st.reconnects, 0u);
}

TEST(SyslogExporter, NothingBeyondAdvanceLeaves) {
  TempDir dir;
  TrailWriter trail(dir.path(), 1000);
  trail.append(20);
  TcpSink sink;
  auto exporter = start(dir.path(), target(SyslogTarget::Transport::tcp, sink.port()));
  ASSERT_TRUE(exporter);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink.size(), 0u) << "records left before advance()";
  exporter->advance(8);
  ASSERT_TRUE(eventually([&] { return sink.size() >= 8; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sink.size(), 8u);
  EXPECT_EQ(exporter->exported_seq(), 8u);
  exporter->advance(5);  // never lowers the limit
  exporter->advance(20);
  ASSERT_TRUE(eventually([&] { return sink.size() >= 20; }));
  expect_in_order(sink.messages(), trail, 1, 20);
}

TEST(SyslogExporter, TcpOutageLosesNothing) {
  TempDir dir;
  TrailWriter trail(dir.path(), 16);
  trail.append(50);
  auto first = std::make_unique<TcpSink>();
  const std::uint16_t port = first->port();
  auto exporter = start(dir.path(), target(SyslogTarget::Transport::tcp, port));
  ASSERT_TRUE(exporter);
  exporter->advance(50);
  ASSERT_TRUE(eventually([&] { return first->size() >= 50; }));
  ASSERT_TRUE(eventually([&] { return exporter->exported_seq() == 50; }));
  const std::vector<Received> before = first->messages();
  first.reset();  // the SIEM goes away

  trail.append(50);
  exporter->advance(100);  // the log goes on while nobody listens
  ASSERT_TRUE(eventually([&] { return exporter->stats().send_errors > 0; }));
  EXPECT_FALSE(exporter->stats().connected);
  EXPECT_EQ(exporter->exported_seq(), 50u) << "records counted as exported with nobody listening";

  TcpSink second(port);  // back, on the same port
  ASSERT_TRUE(eventually([&] { return !second.messages().empty() && second.messages().back().seq == 100; }));
  const std::vector<Received> after = second.messages();
  // Duplicates are allowed (records after the cursor may be sent again);
  // gaps are not.
  expect_in_order(before, trail, 1, 50);
  expect_in_order(after, trail, 51, 100);
  EXPECT_LE(after.front().seq, 51u);
  EXPECT_GE(exporter->stats().reconnects, 1u);
  EXPECT_TRUE(eventually([&] { return exporter->exported_seq() == 100; }));
}

TEST(SyslogExporter, ReceiverRestartMidStreamLosesNothing) {
  TempDir dir;
  TrailWriter trail(dir.path(), 64);
  auto first = std::make_unique<TcpSink>();
  const std::uint16_t port = first->port();
  first->leave_after(150);
  auto exporter = start(dir.path(), target(SyslogTarget::Transport::tcp, port));
  ASSERT_TRUE(exporter);
  // The log writes and syncs on its own schedule while the receiver goes
  // away in the middle of the stream and comes back.
  constexpr std::uint64_t kRecords = 600;
  std::thread log([&] {
    for (std::uint64_t i = 0; i < kRecords; ++i) {
      trail.append(1);
      exporter->advance(trail.last());
      std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(eventually([&] { return first->done(); })) << first->size();
  const std::vector<Received> before = first->messages();
  std::this_thread::sleep_for(150ms);
  TcpSink second(port);
  log.join();
  ASSERT_TRUE(eventually([&] { return !second.messages().empty() && second.messages().back().seq == kRecords; }));
  const std::vector<Received> after = second.messages();
  ASSERT_FALSE(before.empty());
  expect_in_order(before, trail, 1, before.back().seq);
  expect_in_order(after, trail, before.back().seq + 1, kRecords);
  EXPECT_LE(after.front().seq, before.back().seq + 1) << "a gap between the two connections";
  EXPECT_GE(exporter->stats().reconnects, 1u);
}

TEST(SyslogExporter, CursorSurvivesARestartOfTheExporter) {
  TempDir dir;
  TrailWriter trail(dir.path(), 10);
  trail.append(30);
  TcpSink sink;
  {
    auto exporter = start(dir.path(), target(SyslogTarget::Transport::tcp, sink.port()));
    ASSERT_TRUE(exporter);
    exporter->advance(30);
    ASSERT_TRUE(eventually([&] { return exporter->exported_seq() == 30; }));
    const auto begun = std::chrono::steady_clock::now();
    exporter->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - begun, 1500ms) << "stop() took too long";
  }
  std::ifstream cursor(dir.path() + "/export.cursor");
  std::string text((std::istreambuf_iterator<char>(cursor)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "30 " + trail.hash(30) + "\n");

  trail.append(10);
  auto again = start(dir.path(), target(SyslogTarget::Transport::tcp, sink.port()));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->exported_seq(), 30u);
  again->advance(40);
  ASSERT_TRUE(eventually([&] { return sink.size() >= 40; })) << sink.size();
  std::this_thread::sleep_for(100ms);
  const std::vector<Received> all = sink.messages();
  // A clean stop writes the cursor, so nothing is sent twice.
  ASSERT_EQ(all.size(), 40u);
  expect_in_order(all, trail, 1, 40);
}

TEST(SyslogExporter, CursorIsWrittenWhileRunningNotOnlyAtStop) {
  TempDir dir;
  TrailWriter trail(dir.path(), 1000);
  trail.append(2500);
  TcpSink sink;
  auto exporter = start(dir.path(), target(SyslogTarget::Transport::tcp, sink.port()));
  ASSERT_TRUE(exporter);
  exporter->advance(2500);
  ASSERT_TRUE(eventually([&] { return exporter->exported_seq() == 2500; }, 30s));
  // Written at least every 1000 records or every second: without a stop(),
  // the file on disk is at most a second or 1000 records behind.
  std::uint64_t on_disk = 0;
  ASSERT_TRUE(eventually([&] {
    std::ifstream cursor(dir.path() + "/export.cursor");
    on_disk = 0;
    cursor >> on_disk;
    return on_disk == 2500;
  }, 3s)) << on_disk;
}

TEST(SyslogExporter, TrailReplacedUnderTheCursorIsReportedAndExportGoesOn) {
  TempDir dir;
  TrailWriter trail(dir.path(), 100);
  trail.append(10);
  TcpSink sink;
  {
    auto exporter = start(dir.path(), target(SyslogTarget::Transport::tcp, sink.port()));
    ASSERT_TRUE(exporter);
    exporter->advance(10);
    ASSERT_TRUE(eventually([&] { return exporter->exported_seq() == 10; }));
  }
  // Someone rewrites the trail: same seqs, other records.
  for (const auto& entry : fsys::directory_iterator(dir.path())) {
    if (entry.path().filename().string().starts_with("audit-")) fsys::remove(entry.path());
  }
  TrailWriter forged(dir.path(), 100);
  forged.pad_names(1);
  forged.append(15);
  auto exporter = start(dir.path(), target(SyslogTarget::Transport::tcp, sink.port()));
  ASSERT_TRUE(exporter);
  exporter->advance(15);
  ASSERT_TRUE(eventually([&] { return sink.size() >= 15; })) << sink.size();
  const std::vector<Received> all = sink.messages();
  EXPECT_EQ(all[10].seq, 11u);
  EXPECT_EQ(all[10].hash, forged.hash(11));
  EXPECT_NE(exporter->stats().last_error.find("audit record 10 is not the one export.cursor names"),
            std::string::npos)
      << exporter->stats().last_error;
}

TEST(SyslogExporter, MalformedCursorStopsStartWithItsName) {
  TempDir dir;
  std::ofstream(dir.path() + "/export.cursor") << "not a cursor\n";
  crypto::Result<std::unique_ptr<SyslogExporter>> e =
      SyslogExporter::start(dir.path(), target(SyslogTarget::Transport::udp, 9), fast_options());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, crypto::Errc::bad_format);
  EXPECT_NE(e.error().message.find("export.cursor"), std::string::npos) << e.error().message;
}

}  // namespace
}  // namespace ferry::telemetry

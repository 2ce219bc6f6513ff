// Both daemons as real processes with a fault-injecting proxy on the link
// (tests/integration/fault_proxy.h): whole frames dropped, duplicated,
// reordered and corrupted, and the connection cut on a schedule. The link
// protocol is designed for a lossy datagram link, so everything must still
// arrive exactly once and byte-identical, and corrupt frames must be counted
// (status.json) and never acted on.
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/fault_proxy.h"
#include "tests/integration/delivery_check.h"
#include "tests/integration/two_sides.h"

namespace ferry::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A short directory for the proxy's socket (sun_path holds 108 bytes).
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-fp-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// n files, even ones outer->inner (docs-in), odd ones inner->outer
// (open-data-out); sizes 0..max_small, every 50th empty, and the `big` ones
// 2..5 MiB.
std::vector<Planned> drop_files(TwoSides& sides, std::size_t n, std::uint64_t seed, const std::set<std::size_t>& big,
                                std::size_t max_small) {
  std::vector<Planned> plan;
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string channel = i % 2 == 0 ? "docs-in" : "open-data-out";
    std::size_t size = static_cast<std::size_t>(rng() % (max_small + 1));
    if (i % 50 == 0) size = 0;
    if (big.contains(i)) size = (std::size_t{2} << 20) + static_cast<std::size_t>(rng() % (std::size_t{3} << 20));
    const std::string content = make_content(seed * 100000 + i, size);
    plan.push_back({channel, name_for(i), sm3_hex(content)});
    drop_file(sides.inbox(channel), plan.back().path, content);
  }
  return plan;
}

// The "counters" object of a side's status.json.
std::map<std::string, std::uint64_t> read_counters(const std::string& spool) {
  std::ifstream in(spool + "/status.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::map<std::string, std::uint64_t> out;
  const std::string key = "\"counters\":{";
  std::size_t p = text.find(key);
  if (p == std::string::npos) return out;
  p += key.size();
  const std::size_t end = text.find('}', p);
  while (p < end) {
    const std::size_t q1 = text.find('"', p);
    const std::size_t q2 = text.find('"', q1 + 1);
    const std::size_t colon = text.find(':', q2);
    if (q1 >= end || q2 >= end || colon >= end) break;
    std::size_t stop = text.find_first_of(",}", colon);
    out[text.substr(q1 + 1, q2 - q1 - 1)] = std::stoull(text.substr(colon + 1, stop - colon - 1));
    p = stop + 1;
  }
  return out;
}

std::string describe(const std::map<std::string, std::uint64_t>& c) {
  std::string s;
  for (const auto& [k, v] : c) s += (s.empty() ? "" : ", ") + k + "=" + std::to_string(v);
  return s;
}

std::string tail(const std::string& s, std::size_t n = 3000) { return s.size() > n ? s.substr(s.size() - n) : s; }

// Frames a receiver dropped as malformed, of no session it knows, replayed,
// out of its window, or failing their tag: where an altered sealed frame ends
// up (docs/link-protocol.md §2.3, §5.3) while the link is not down.
std::uint64_t integrity_drops(const std::map<std::string, std::uint64_t>& c) {
  std::uint64_t n = 0;
  for (const char* k : {"dropped_malformed", "dropped_wrong_session", "dropped_replay", "dropped_out_of_window",
                        "dropped_corrupt"}) {
    auto it = c.find(k);
    if (it != c.end()) n += it->second;
  }
  return n;
}

struct RunResult {
  std::vector<Planned> plan;
  FaultProxyStats proxy;
  std::map<std::string, std::uint64_t> outer;
  std::map<std::string, std::uint64_t> inner;
  double seconds = 0;
};

// Both sides with the proxy between them; the files dropped once the link is
// started; waits for all of them, checks exactly-once delivery, stops the
// proxy and reads both sides' counters once the status files caught up.
void exchange_through_proxy(FaultProxyOptions fopts, std::size_t files, std::uint64_t seed,
                            const std::set<std::size_t>& big, std::chrono::seconds limit, RunResult& result) {
  TempDir pdir;
  TwoSidesOptions sopts;
  sopts.outer_link_path = pdir.path() + "/link.sock";
  TwoSides sides(sopts);
  sides.start(Which::inner);
  const std::string inner_sock = sides.dir() + "/var/link.sock";
  ASSERT_TRUE(TwoSides::wait_until([&] { return stdfs::exists(inner_sock); }, 10s)) << tail(sides.log(Which::inner));

  fopts.listen_path = sopts.outer_link_path;
  fopts.target_path = inner_sock;
  fopts.max_lifetime = limit + 30s;
  FaultProxy proxy(fopts);
  std::string error;
  ASSERT_TRUE(proxy.start(&error)) << error;
  sides.start(Which::outer);

  const auto t0 = Clock::now();
  result.plan = drop_files(sides, files, seed, big, 300 * 1024);
  const bool arrived = TwoSides::wait_until([&] { return all_arrived(sides, result.plan); }, limit, 250ms);
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(arrived) << "not all files arrived in " << limit.count() << " s\nproxy:\n"
                       << proxy.stats().to_string() << "\nouter: " << describe(read_counters(sides.spool(Which::outer)))
                       << "\ninner: " << describe(read_counters(sides.spool(Which::inner)))
                       << "\nouter log tail:\n" << tail(sides.log(Which::outer)) << "\ninner log tail:\n"
                       << tail(sides.log(Which::inner));
  std::this_thread::sleep_for(1s);  // anything delivered twice would show now
  expect_exactly(sides, result.plan);
  for (const char* ch : {"docs-in", "open-data-out"}) {
    EXPECT_EQ(count_files(sides.inbox(ch)), 0u) << ch << ": every source file was taken";
  }

  // No more frames after this; the status files are rewritten every second,
  // so both sides' counters then include every frame the proxy handed on.
  const auto stop_started = Clock::now();
  proxy.stop();
  EXPECT_LT(Clock::now() - stop_started, 2s) << "the proxy stops promptly";
  EXPECT_FALSE(proxy.running());
  EXPECT_FALSE(stdfs::exists(sopts.outer_link_path)) << "the proxy removes its socket";
  result.proxy = proxy.stats();
  EXPECT_FALSE(result.proxy.timed_out);
  std::this_thread::sleep_for(2500ms);
  result.outer = read_counters(sides.spool(Which::outer));
  result.inner = read_counters(sides.spool(Which::inner));
  EXPECT_FALSE(result.outer.empty() || result.inner.empty()) << "both sides write status.json";
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);

  std::cout << "[ fault run ] " << result.plan.size() << " files in " << result.seconds << " s\n[ proxy ] "
            << result.proxy.to_string() << "\n[ outer ] " << describe(result.outer) << "\n[ inner ] "
            << describe(result.inner) << std::endl;
}

TEST(FaultyLink, ThreeHundredFilesBothWaysThroughDropsDuplicatesReordersCorruptionAndCuts) {
  FaultProxyOptions f;
  f.drop = 0.03;
  f.duplicate = 0.03;
  f.reorder = 0.03;
  f.corrupt = 0.02;
  f.cut_every = 3s;
  f.seed = 20260301;
  RunResult r;
  exchange_through_proxy(f, 300, 3, {5, 60, 121, 182, 250}, 100s, r);
  if (HasFatalFailure()) return;

  // The proxy did what it was asked to.
  EXPECT_GT(r.proxy.dropped(), 0u);
  EXPECT_GT(r.proxy.duplicated(), 0u);
  EXPECT_GT(r.proxy.reordered(), 0u);
  EXPECT_GT(r.proxy.corrupted(), 0u);
  EXPECT_GE(r.proxy.cuts, 1u);
  EXPECT_GE(r.proxy.accepted, r.proxy.cuts) << "the outer side reconnected after the cuts";
  EXPECT_EQ(r.proxy.oversized, 0u) << "the length prefix is never touched";

  // Corrupt frames are counted by the receiver, never acted on (the
  // exactly-once check above shows nothing corrupt was delivered). A frame
  // fails its tag only if the proxy altered it.
  const std::uint64_t corrupt_outer = r.outer["dropped_corrupt"];
  const std::uint64_t corrupt_inner = r.inner["dropped_corrupt"];
  EXPECT_GT(std::max(corrupt_outer, corrupt_inner), 0u);
  EXPECT_LE(corrupt_inner, r.proxy.outer_to_inner.corrupted_copies_out);
  EXPECT_LE(corrupt_outer, r.proxy.inner_to_outer.corrupted_copies_out);
  // Duplicates are recognised as replays.
  EXPECT_GT(r.outer["dropped_replay"] + r.inner["dropped_replay"], 0u);
  // Losses were repaired by retransmission.
  EXPECT_GT(r.outer["retransmitted"] + r.inner["retransmitted"], 0u);
  EXPECT_GE(r.outer["handshakes"], 2u) << "a new session after a cut";
}

TEST(FaultyLink, TenPercentCorruptionDeliversNothingCorrupt) {
  FaultProxyOptions f;
  f.corrupt = 0.10;
  f.seed = 77;
  RunResult r;
  exchange_through_proxy(f, 120, 4, {7, 64}, 60s, r);
  if (HasFatalFailure()) return;

  EXPECT_EQ(r.proxy.dropped() + r.proxy.duplicated() + r.proxy.reordered() + r.proxy.cuts, 0u);
  EXPECT_GT(r.proxy.corrupted(), 0u);
  // Each side counts what the proxy corrupted on the way to it: a tag failure
  // only for an altered frame, and every altered sealed frame dropped for one
  // reason or another (no cuts here, so every frame the proxy handed on was
  // read by its side before the status files were last written).
  const FaultDirectionStats& to_inner = r.proxy.outer_to_inner;
  const FaultDirectionStats& to_outer = r.proxy.inner_to_outer;
  EXPECT_GT(r.inner["dropped_corrupt"], 0u);
  EXPECT_GT(r.outer["dropped_corrupt"], 0u);
  EXPECT_LE(r.inner["dropped_corrupt"], to_inner.corrupted_copies_out);
  EXPECT_LE(r.outer["dropped_corrupt"], to_outer.corrupted_copies_out);
  EXPECT_GE(integrity_drops(r.inner), to_inner.corrupted_sealed);
  EXPECT_GE(integrity_drops(r.outer), to_outer.corrupted_sealed);
}

// --- the proxy on its own, with raw sockets --------------------------------

int listen_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int accept_within(int listen_fd, std::chrono::milliseconds limit) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return -1;
  return ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
}

std::string frame_for(std::uint64_t index) {
  std::string f(8, '\0');
  std::memcpy(f.data(), &index, 8);
  return f + make_content(index, 1 + index % 300);
}

void send_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    done += static_cast<std::size_t>(n);
  }
}

// Reads length-prefixed frames until nothing came for `quiet`.
std::vector<std::string> read_frames(int fd, std::chrono::milliseconds quiet) {
  std::vector<std::string> frames;
  std::string buf;
  char chunk[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(quiet.count())) != 1) break;
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t pos = 0;
    while (buf.size() - pos >= 4) {
      const auto* h = reinterpret_cast<const unsigned char*>(buf.data() + pos);
      const std::size_t len = std::size_t{h[0]} << 24 | std::size_t{h[1]} << 16 | std::size_t{h[2]} << 8 | h[3];
      if (buf.size() - pos - 4 < len) break;
      frames.push_back(buf.substr(pos + 4, len));
      pos += 4 + len;
    }
    buf.erase(0, pos);
  }
  return frames;
}

std::string with_prefix(const std::string& frame) {
  const auto n = static_cast<std::uint32_t>(frame.size());
  std::string out(4, '\0');
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
  return out + frame;
}

TEST(FaultProxy, ForwardsWholeFramesAndCountsEveryFault) {
  TempDir dir;
  const int inner = listen_unix(dir.path() + "/inner.sock");
  ASSERT_GE(inner, 0);
  FaultProxyOptions f;
  f.listen_path = dir.path() + "/proxy.sock";
  f.target_path = dir.path() + "/inner.sock";
  f.drop = f.duplicate = f.reorder = f.corrupt = 0.1;
  f.seed = 5;
  FaultProxy proxy(f);
  std::string error;
  ASSERT_TRUE(proxy.start(&error)) << error;
  const int outer = connect_unix(f.listen_path);
  ASSERT_GE(outer, 0);
  const int peer = accept_within(inner, 2s);
  ASSERT_GE(peer, 0) << "the proxy connects to the inner side for each connection it accepts";

  constexpr std::uint64_t kFrames = 3000;
  std::string stream;
  for (std::uint64_t i = 0; i < kFrames; ++i) stream += with_prefix(frame_for(i));
  send_all(outer, stream);
  const std::vector<std::string> got = read_frames(peer, 500ms);
  const FaultProxyStats st = proxy.stats();
  const FaultDirectionStats& d = st.outer_to_inner;

  EXPECT_EQ(d.frames_in, kFrames);
  EXPECT_EQ(got.size(), d.frames_out);
  EXPECT_EQ(d.frames_out, kFrames - d.dropped + d.duplicated);
  std::uint64_t altered = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t last = 0;
  std::map<std::uint64_t, int> seen;
  for (const std::string& g : got) {
    std::uint64_t index = 0;
    if (g.size() >= 8) std::memcpy(&index, g.data(), 8);
    if (g.size() < 8 || index >= kFrames || g != frame_for(index)) {
      ++altered;
      continue;
    }
    if (index < last) ++out_of_order;
    last = std::max(last, index);
    ++seen[index];
  }
  EXPECT_EQ(altered, d.corrupted_copies_out);
  EXPECT_GT(d.dropped, 0u);
  EXPECT_GT(d.duplicated, 0u);
  EXPECT_GT(d.reordered, 0u);
  EXPECT_GT(d.corrupted, 0u);
  EXPECT_GT(out_of_order, 0u);
  std::size_t twice = 0;
  for (const auto& [index, n] : seen) twice += n == 2 ? 1 : 0;
  EXPECT_GT(twice, 0u);
  EXPECT_EQ(st.inner_to_outer.frames_in, 0u);

  const auto t = Clock::now();
  proxy.stop();
  EXPECT_LT(Clock::now() - t, 1s);
  EXPECT_FALSE(stdfs::exists(f.listen_path));
  char c;
  EXPECT_EQ(::recv(peer, &c, 1, 0), 0) << "the proxy closed its connection to the inner side";
  ::close(outer);
  ::close(peer);
  ::close(inner);
}

TEST(FaultProxy, CutsOnScheduleAndTakesTheReconnection) {
  TempDir dir;
  const int inner = listen_unix(dir.path() + "/inner.sock");
  ASSERT_GE(inner, 0);
  FaultProxyOptions f;
  f.listen_path = dir.path() + "/proxy.sock";
  f.target_path = dir.path() + "/inner.sock";
  f.cut_every = 300ms;
  FaultProxy proxy(f);
  ASSERT_TRUE(proxy.start());
  for (int round = 0; round < 3; ++round) {
    const int outer = connect_unix(f.listen_path);
    ASSERT_GE(outer, 0);
    const int peer = accept_within(inner, 2s);
    ASSERT_GE(peer, 0);
    send_all(peer, with_prefix("reply " + std::to_string(round)));
    const std::vector<std::string> got = read_frames(outer, 2s);  // ends with the cut
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], "reply " + std::to_string(round));
    char c;
    EXPECT_EQ(::recv(peer, &c, 1, 0), 0);
    ::close(outer);
    ::close(peer);
  }
  // The counters are published each turn of the proxy's loop, just after it closed the sockets.
  EXPECT_TRUE(TwoSides::wait_until([&] { return proxy.stats().cuts == 3; }, 2s));
  EXPECT_EQ(proxy.stats().accepted, 3u);
  // Nobody listening on the inner side: the outer connection is closed at once.
  ::close(inner);
  const int outer = connect_unix(f.listen_path);
  ASSERT_GE(outer, 0);
  char c;
  pollfd p{outer, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  EXPECT_LE(::recv(outer, &c, 1, 0), 0);
  ::close(outer);
  EXPECT_TRUE(TwoSides::wait_until([&] { return proxy.stats().connect_failures == 1; }, 2s));
}

TEST(FaultProxy, BoundsItsOwnTime) {
  TempDir dir;
  FaultProxyOptions f;
  f.listen_path = dir.path() + "/proxy.sock";
  f.target_path = dir.path() + "/inner.sock";
  f.max_lifetime = 200ms;
  FaultProxy proxy(f);
  ASSERT_TRUE(proxy.start());
  ASSERT_TRUE(TwoSides::wait_until([&] { return !proxy.running(); }, 2s));
  EXPECT_TRUE(proxy.stats().timed_out);
}

}  // namespace
}  // namespace ferry::test

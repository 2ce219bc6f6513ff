// The UNIX-socket frame transport with real sockets in a temp directory.
#include "hw/frame_transport.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

namespace {

namespace asio = boost::asio;
using ferry::hw::UnixTransportOptions;
using Bytes = ferry::crypto::Bytes;

class UnixTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-hw-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/link.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ferry::hw::FrameTransport> make(UnixTransportOptions::Role role, std::size_t max_frame = 1 << 20) {
    UnixTransportOptions o;
    o.role = role;
    o.path = path_;
    o.max_frame = max_frame;
    return ferry::hw::make_unix_transport(io_, o);
  }

  // Runs the loop until pred() or the deadline; returns pred().
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(5));
      if (io_.stopped()) io_.restart();
    }
    return pred();
  }

  asio::io_context io_;
  std::string dir_, path_;
};

TEST_F(UnixTransportTest, FramesCrossWholeInBothDirections) {
  auto inner = make(UnixTransportOptions::Role::listen);
  auto outer = make(UnixTransportOptions::Role::connect);
  std::vector<Bytes> at_inner, at_outer;
  bool inner_up = false, outer_up = false;
  inner->start([&](ferry::crypto::ByteView f) { at_inner.emplace_back(f.begin(), f.end()); },
               [&](bool up, const std::string&) { inner_up = up; });
  outer->start([&](ferry::crypto::ByteView f) { at_outer.emplace_back(f.begin(), f.end()); },
               [&](bool up, const std::string&) { outer_up = up; });
  ASSERT_TRUE(run_until([&] { return inner_up && outer_up; }));

  std::vector<Bytes> sent;
  for (std::size_t n : {0u, 1u, 4u, 1000u, 65536u, 300000u}) {
    Bytes f(n);
    for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<std::uint8_t>(i * 7 + n);
    sent.push_back(f);
    outer->send(f);
    inner->send(f);
  }
  ASSERT_TRUE(run_until([&] { return at_inner.size() == sent.size() && at_outer.size() == sent.size(); }));
  EXPECT_EQ(at_inner, sent);
  EXPECT_EQ(at_outer, sent);
  EXPECT_EQ(outer->stats().frames_sent, sent.size());
  inner->stop();
  outer->stop();
}

TEST_F(UnixTransportTest, ConnectorRetriesUntilTheListenerAppearsAndAfterItRestarts) {
  auto outer = make(UnixTransportOptions::Role::connect);
  int ups = 0;
  outer->start([](ferry::crypto::ByteView) {}, [&](bool up, const std::string&) { ups += up ? 1 : 0; });
  io_.run_for(std::chrono::milliseconds(300));  // nobody listening yet
  EXPECT_FALSE(outer->is_up());
  outer->send(Bytes{1, 2, 3});
  EXPECT_EQ(outer->stats().frames_dropped_down, 1u);

  auto inner = make(UnixTransportOptions::Role::listen);
  inner->start([](ferry::crypto::ByteView) {}, [](bool, const std::string&) {});
  ASSERT_TRUE(run_until([&] { return ups == 1; }));
  inner->stop();
  inner.reset();
  ASSERT_TRUE(run_until([&] { return !outer->is_up(); }));
  inner = make(UnixTransportOptions::Role::listen);
  inner->start([](ferry::crypto::ByteView) {}, [](bool, const std::string&) {});
  ASSERT_TRUE(run_until([&] { return ups == 2; })) << "the connector must reconnect by itself";
  inner->stop();
  outer->stop();
}

// Reads take whatever the socket holds: a burst of many small frames, and
// frames split at every byte across writes, still arrive whole and in order.
TEST_F(UnixTransportTest, BurstsAndFramesSplitAcrossWritesArriveWholeAndInOrder) {
  auto inner = make(UnixTransportOptions::Role::listen, 4096);
  std::vector<Bytes> frames;
  inner->start([&](ferry::crypto::ByteView f) { frames.emplace_back(f.begin(), f.end()); },
               [](bool, const std::string&) {});
  io_.run_for(std::chrono::milliseconds(50));
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  Bytes stream;
  std::vector<Bytes> sent;
  for (std::size_t i = 0; i < 2000; ++i) {
    Bytes f(i % 97 == 0 ? 4096 : i % 13);
    for (std::size_t k = 0; k < f.size(); ++k) f[k] = static_cast<std::uint8_t>(i + k);
    const std::size_t n = f.size();
    stream.insert(stream.end(), {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                 static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    stream.insert(stream.end(), f.begin(), f.end());
    sent.push_back(std::move(f));
  }
  // The first half in one write, the rest a few bytes at a time.
  const std::size_t half = stream.size() / 2 + 3;
  ASSERT_EQ(::write(fd, stream.data(), half), static_cast<ssize_t>(half));
  for (std::size_t at = half; at < stream.size();) {
    const std::size_t n = std::min<std::size_t>(7, stream.size() - at);
    ASSERT_EQ(::write(fd, stream.data() + at, n), static_cast<ssize_t>(n));
    at += n;
    if (at % 700 < 7) io_.run_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(run_until([&] { return frames.size() == sent.size(); }));
  EXPECT_EQ(frames, sent);
  ::close(fd);
  inner->stop();
}

TEST_F(UnixTransportTest, OversizedLengthFieldResetsTheConnectionAndTheListenerGoesOn) {
  auto inner = make(UnixTransportOptions::Role::listen, 1024);
  std::vector<std::string> downs;
  std::vector<Bytes> frames;
  inner->start([&](ferry::crypto::ByteView f) { frames.emplace_back(f.begin(), f.end()); },
               [&](bool up, const std::string& why) {
                 if (!up) downs.push_back(why);
               });
  io_.run_for(std::chrono::milliseconds(50));

  // A raw client writes a length field of 2^31 and garbage.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const unsigned char evil[] = {0x80, 0, 0, 0, 'g', 'a', 'r', 'b'};
  ASSERT_EQ(::write(fd, evil, sizeof evil), static_cast<ssize_t>(sizeof evil));
  ASSERT_TRUE(run_until([&] { return !downs.empty(); }));
  EXPECT_NE(downs[0].find("exceeds the limit 1024"), std::string::npos) << downs[0];
  EXPECT_EQ(inner->stats().oversized_frames, 1u);
  EXPECT_TRUE(frames.empty());
  ::close(fd);

  // A well-behaved peer still gets through afterwards.
  auto outer = make(UnixTransportOptions::Role::connect);
  bool up = false;
  outer->start([](ferry::crypto::ByteView) {}, [&](bool u, const std::string&) { up = u; });
  ASSERT_TRUE(run_until([&] { return up; }));
  outer->send(Bytes{9, 9});
  ASSERT_TRUE(run_until([&] { return frames.size() == 1; }));
  EXPECT_EQ(frames[0], (Bytes{9, 9}));
  inner->stop();
  outer->stop();
}

TEST_F(UnixTransportTest, TruncatedFrameThenCloseIsReportedNotDelivered) {
  auto inner = make(UnixTransportOptions::Role::listen);
  std::vector<std::string> downs;
  int frames = 0;
  inner->start([&](ferry::crypto::ByteView) { ++frames; }, [&](bool up, const std::string& why) {
    if (!up) downs.push_back(why);
  });
  io_.run_for(std::chrono::milliseconds(50));
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const unsigned char half[] = {0, 0, 0, 10, 1, 2, 3};
  ASSERT_EQ(::write(fd, half, sizeof half), static_cast<ssize_t>(sizeof half));
  ::close(fd);
  ASSERT_TRUE(run_until([&] { return !downs.empty(); }));
  EXPECT_NE(downs[0].find("mid-frame"), std::string::npos) << downs[0];
  EXPECT_EQ(frames, 0);
  inner->stop();
}

TEST_F(UnixTransportTest, StaleSocketFileIsReplacedButARegularFileIsNot) {
  {
    // A socket file left behind by a process killed with -9.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    ASSERT_TRUE(std::filesystem::is_socket(path_));
  }
  auto second = make(UnixTransportOptions::Role::listen);
  std::string why;
  second->start([](ferry::crypto::ByteView) {}, [&](bool, const std::string& w) { why = w; });
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(why, "") << "a stale socket must not stop the listener: " << why;
  second->stop();

  std::filesystem::remove(path_);
  { FILE* f = std::fopen(path_.c_str(), "w"); std::fputs("precious", f); std::fclose(f); }
  auto third = make(UnixTransportOptions::Role::listen);
  third->start([](ferry::crypto::ByteView) {}, [&](bool, const std::string& w) { why = w; });
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_NE(why.find("cannot listen"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));
  third->stop();
}

}  // namespace

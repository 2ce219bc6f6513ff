// The exposition writer and the scrape endpoint, read back with the
// independent parser in tests/support/prometheus_text.h.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "ferry/telemetry/metrics.h"
#include "tests/support/prometheus_text.h"

namespace ferry::telemetry {
namespace {

using namespace std::chrono_literals;

std::string sample_text() {
  Exposition e;
  e.family("ferry_objects_total", MetricKind::counter, "Objects that left the spool, by channel and verdict.");
  e.sample("ferry_objects_total", {{"channel", "docs"}, {"verdict", "accepted"}}, 1234);
  e.family("ferry_spool_bytes", MetricKind::gauge, "Bytes held in the spool.\nPer side.");
  e.sample("ferry_spool_bytes", {{"side", "outer"}}, 9007199254740993.0);
  e.sample("ferry_objects_total", {{"channel", "a\\b\"c\nd"}, {"verdict", "rejected"}}, 2);
  e.sample("ferry_spool_bytes", {{"side", "inner"}}, 0.25);
  e.family("ferry_up", MetricKind::gauge, "1 while the side runs.");
  e.sample("ferry_up", {}, 1);
  return e.text();
}

TEST(Exposition, TextIsExactlyFormat004) {
  // Samples of a family stay together even when the calls interleave; the
  // label value is escaped (\\, \", \n); HELP escapes \n.
  EXPECT_EQ(sample_text(),
            "# HELP ferry_objects_total Objects that left the spool, by channel and verdict.\n"
            "# TYPE ferry_objects_total counter\n"
            "ferry_objects_total{channel=\"docs\",verdict=\"accepted\"} 1234\n"
            "ferry_objects_total{channel=\"a\\\\b\\\"c\\nd\",verdict=\"rejected\"} 2\n"
            "# HELP ferry_spool_bytes Bytes held in the spool.\\nPer side.\n"
            "# TYPE ferry_spool_bytes gauge\n"
            "ferry_spool_bytes{side=\"outer\"} 9007199254740992\n"
            "ferry_spool_bytes{side=\"inner\"} 0.25\n"
            "# HELP ferry_up 1 while the side runs.\n"
            "# TYPE ferry_up gauge\n"
            "ferry_up 1\n");
}

TEST(Exposition, NumbersWithoutExponentWhenIntegral) {
  EXPECT_EQ(format_sample_value(0), "0");
  EXPECT_EQ(format_sample_value(-0.0), "0");
  EXPECT_EQ(format_sample_value(1e6), "1000000");
  EXPECT_EQ(format_sample_value(1e20), "100000000000000000000");
  EXPECT_EQ(format_sample_value(-42), "-42");
  EXPECT_EQ(format_sample_value(0.1), "0.1");
  EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
  EXPECT_EQ(format_sample_value(INFINITY), "+Inf");
  EXPECT_EQ(format_sample_value(-INFINITY), "-Inf");
}

TEST(Exposition, NameRules) {
  EXPECT_TRUE(valid_metric_name("ferry_objects_total"));
  EXPECT_TRUE(valid_metric_name("job:ferry_objects:rate5m"));
  EXPECT_FALSE(valid_metric_name("0ferry"));
  EXPECT_FALSE(valid_metric_name("ferry-objects"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("channel"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("1a"));
}

TEST(Exposition, RoundTripsThroughAnIndependentParser) {
  crypto::Result<test::PromScrape> s = test::parse_prometheus_text(sample_text());
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->families.size(), 3u);
  const test::PromFamily* objects = s->family("ferry_objects_total");
  ASSERT_NE(objects, nullptr);
  EXPECT_EQ(objects->type, "counter");
  EXPECT_EQ(objects->help, "Objects that left the spool, by channel and verdict.");
  EXPECT_EQ(s->value("ferry_objects_total", {{"channel", "a\\b\"c\nd"}}), 2.0);
  EXPECT_EQ(s->value("ferry_objects_total", {{"channel", "docs"}, {"verdict", "accepted"}}), 1234.0);
  EXPECT_EQ(s->family("ferry_spool_bytes")->help, "Bytes held in the spool.\nPer side.");
  EXPECT_EQ(s->family("ferry_spool_bytes")->type, "gauge");
  EXPECT_EQ(s->value("ferry_spool_bytes", {{"side", "inner"}}), 0.25);
  EXPECT_EQ(s->value("ferry_up"), 1.0);
}

TEST(PrometheusTextParser, RefusesWhatFormat004Forbids) {
  EXPECT_FALSE(test::parse_prometheus_text("a 1\nb 2\na 3\n")) << "family split";
  EXPECT_FALSE(test::parse_prometheus_text("# TYPE a gauge\n# TYPE a gauge\na 1\n"));
  EXPECT_FALSE(test::parse_prometheus_text("a{x=\"\\q\"} 1\n")) << "bad escape";
  EXPECT_FALSE(test::parse_prometheus_text("a{x=\"1\" 1\n"));
  EXPECT_FALSE(test::parse_prometheus_text("a one\n"));
  EXPECT_FALSE(test::parse_prometheus_text("a 1"));
}

// A server on its own io_context, run by a thread for the duration of a test.
class Endpoint {
 public:
  explicit Endpoint(MetricsServerOptions options = {}) {
    crypto::Result<std::unique_ptr<MetricsServer>> s = MetricsServer::start(
        io_, "127.0.0.1:0", [this] { ++renders_; return sample_text(); }, options);
    EXPECT_TRUE(s) << s.error().message;
    if (s) server_ = std::move(s).value();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Endpoint() {
    boost::asio::post(io_, [this] { server_->stop(); });
    thread_.join();  // run() returns when the stopped server's work is done
  }
  std::uint16_t port() const { return server_->port(); }
  int renders() const { return renders_; }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<MetricsServer> server_;
  std::atomic<int> renders_{0};
  std::thread thread_;
};

TEST(MetricsServer, ScrapeReturnsTheExposition) {
  Endpoint endpoint;
  crypto::Result<test::HttpReply> r = test::http_get(endpoint.port(), "/metrics");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r->body, sample_text());
  crypto::Result<test::PromScrape> s = test::parse_prometheus_text(r->body);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->value("ferry_objects_total", {{"channel", "a\\b\"c\nd"}, {"verdict", "rejected"}}), 2.0);
  EXPECT_EQ(endpoint.renders(), 1);
}

TEST(MetricsServer, OtherPathsAre404AndOtherMethods405) {
  Endpoint endpoint;
  crypto::Result<test::HttpReply> r = test::http_get(endpoint.port(), "/");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 404);
  r = test::http_get(endpoint.port(), "/metrics/../etc/passwd");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = test::http_exchange(endpoint.port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["allow"], "GET");
  r = test::http_exchange(endpoint.port(), "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(endpoint.renders(), 0);
}

TEST(MetricsServer, OverlongHeaderIsRefused) {
  Endpoint endpoint;
  const std::string request =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(9000, 'a') + "\r\n\r\n";
  crypto::Result<test::HttpReply> r = test::http_exchange(endpoint.port(), request);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(endpoint.renders(), 0);
  // A header just under the limit is fine.
  r = test::http_exchange(endpoint.port(),
                          "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(7000, 'a') + "\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(MetricsServer, MalformedRequestIs400) {
  Endpoint endpoint;
  crypto::Result<test::HttpReply> r = test::http_exchange(endpoint.port(), "GET /metrics HTTP/9\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// True when the server closes `fd` within `limit`.
bool closed_within(int fd, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, 0) <= 0;
}

TEST(MetricsServer, SilentClientIsDroppedAfterTheTimeout) {
  MetricsServerOptions o;
  o.read_timeout = 300ms;
  Endpoint endpoint(o);
  const int fd = connect_loopback(endpoint.port());
  const auto begun = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_within(fd, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - begun, 250ms);
  ::close(fd);
  // And the endpoint still serves.
  crypto::Result<test::HttpReply> r = test::http_get(endpoint.port(), "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(MetricsServer, ConnectionsBeyondTheLimitAreClosed) {
  MetricsServerOptions o;
  o.max_connections = 3;
  Endpoint endpoint(o);
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(connect_loopback(endpoint.port()));
  std::this_thread::sleep_for(200ms);  // let the server accept them
  const int extra = connect_loopback(endpoint.port());
  EXPECT_TRUE(closed_within(extra, 2s)) << "a fourth connection was kept";
  ::close(extra);
  for (int fd : idle) EXPECT_FALSE(closed_within(fd, 0ms)) << "an idle connection within the limit was closed";
  for (int fd : idle) ::close(fd);
  // Once they are gone, scrapes work again.
  EXPECT_TRUE([&] {
    for (int i = 0; i < 100; ++i) {
      crypto::Result<test::HttpReply> r = test::http_get(endpoint.port(), "/metrics", 2s);
      if (r && r->status == 200) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }());
}

TEST(MetricsServer, BadListenAddressesAreErrors) {
  boost::asio::io_context io;
  for (const char* bad : {"127.0.0.1", "localhost:9750", "::1:9750", "[::1]9750", "127.0.0.1:70000"}) {
    crypto::Result<std::unique_ptr<MetricsServer>> s = MetricsServer::start(io, bad, [] { return std::string(); });
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, crypto::Errc::invalid_argument) << bad;
  }
  crypto::Result<std::unique_ptr<MetricsServer>> s = MetricsServer::start(io, "[::1]:0", [] { return std::string(); });
  // Hosts without IPv6 cannot bind it; that is not our concern here.
  if (s) {
    EXPECT_NE((*s)->port(), 0);
  }
}

}  // namespace
}  // namespace ferry::telemetry

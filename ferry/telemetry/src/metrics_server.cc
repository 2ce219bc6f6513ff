// The scrape endpoint. Boost.Beast parses the request: HTTP is hostile
// input, and a parser with header limits and a fuzzed history beats one of
// our own for a feature this small.
#include <algorithm>
#include <array>
#include <charconv>
#include <list>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "ferry/telemetry/metrics.h"

namespace ferry::telemetry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using crypto::Errc;
using crypto::make_error;

namespace {
class Session;
constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::size_t kLingerBytes = 64 * 1024;
}  // namespace

struct MetricsServer::State {
  State(asio::io_context& context, std::function<std::string()> r, MetricsServerOptions o)
      : acceptor(context), render(std::move(r)), opt(o) {}
  tcp::acceptor acceptor;
  std::function<std::string()> render;
  MetricsServerOptions opt;
  std::uint16_t port = 0;
  bool stopped = false;
  std::size_t active = 0;
  std::list<std::weak_ptr<Session>> sessions;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<MetricsServer::State> state, tcp::socket socket)
      : state_(std::move(state)), stream_(std::move(socket)), buffer_(state_->opt.header_limit + 1024) {
    ++state_->active;
  }
  ~Session() { --state_->active; }

  void start() {
    parser_.header_limit(static_cast<std::uint32_t>(state_->opt.header_limit));
    // The timeout bounds the whole request: a client that trickles bytes
    // (slowloris) is cut off like one that sends nothing.
    stream_.expires_after(state_->opt.read_timeout);
    http::async_read_header(stream_, buffer_, parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void on_header(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      // RFC 6585 §5.
      respond(http::status::request_header_fields_too_large, "request header fields too large\n", false);
      return;
    }
    if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      close();
      return;
    }
    if (ec) {
      respond(http::status::bad_request, "bad request\n", false);
      return;
    }
    const auto& req = parser_.get();
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    if (target != "/metrics") {
      respond(http::status::not_found, "not found; try /metrics\n", false);
    } else if (req.method() != http::verb::get) {
      // RFC 9110 §15.5.6: a 405 names the methods that would work.
      respond(http::status::method_not_allowed, "only GET\n", true);
    } else {
      response_.set(http::field::content_type, std::string(kContentType));
      respond(http::status::ok, state_->render(), false);
    }
  }

  void respond(http::status status, std::string body, bool allow_get) {
    response_.version(11);
    response_.result(status);
    if (status != http::status::ok) response_.set(http::field::content_type, "text/plain; charset=utf-8");
    if (allow_get) response_.set(http::field::allow, "GET");
    response_.keep_alive(false);
    response_.body() = std::move(body);
    response_.prepare_payload();
    stream_.expires_after(state_->opt.read_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->linger();
    });
  }

  // Closing a socket with unread request bytes (the rest of an over-long
  // header, a body we did not want) makes the kernel send a reset, which
  // can destroy the response before the client reads it. So: send FIN,
  // then read and discard until the client closes, for a bounded time and
  // amount (what web servers call a lingering close).
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::milliseconds>(state_->opt.read_timeout, std::chrono::seconds(1)));
    drain(0);
  }
  void drain(std::size_t so_far) {
    if (so_far > kLingerBytes) return close();
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this(), so_far](beast::error_code ec,
                                                                                         std::size_t n) {
      if (ec) return self->close();
      self->drain(so_far + n);
    });
  }

  std::shared_ptr<MetricsServer::State> state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> response_;
  std::array<char, 4096> scratch_;
};

void accept_next(const std::shared_ptr<MetricsServer::State>& state) {
  state->acceptor.async_accept([state](beast::error_code ec, tcp::socket socket) {
    if (state->stopped) return;
    if (!ec) {
      if (state->active >= state->opt.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        auto session = std::make_shared<Session>(state, std::move(socket));
        state->sessions.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
        state->sessions.push_back(session);
        session->start();
      }
    }
    // Errors of one accept (EMFILE, a connection reset while queued) do not
    // stop the endpoint.
    accept_next(state);
  });
}

crypto::Result<tcp::endpoint> parse_listen(std::string_view listen) {
  const auto bad = [&](const std::string& what) {
    return make_error(Errc::invalid_argument, "metrics listen address \"" + std::string(listen) + "\": " + what);
  };
  std::string host;
  std::string_view port_text;
  if (listen.starts_with("[")) {
    const std::size_t close = listen.find("]:");
    if (close == std::string_view::npos) return bad("expected [IPv6]:port");
    host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) return bad("expected address:port");
    host = std::string(listen.substr(0, colon));
    if (host.find(':') != std::string::npos) return bad("an IPv6 address must be in brackets");
    port_text = listen.substr(colon + 1);
  }
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return bad("\"" + host + "\" is not an IP address");
  unsigned port = 0;
  const auto [end, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || perr != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return bad("the port is not a number from 0 to 65535");
  }
  return tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

}  // namespace

crypto::Result<std::unique_ptr<MetricsServer>> MetricsServer::start(asio::io_context& io, std::string_view listen,
                                                                    std::function<std::string()> render,
                                                                    MetricsServerOptions options) {
  assert(render && options.max_connections > 0 && options.header_limit > 0);
  crypto::Result<tcp::endpoint> endpoint = parse_listen(listen);
  if (!endpoint) return endpoint.error();
  auto state = std::make_shared<State>(io, std::move(render), options);
  beast::error_code ec;
  const auto fail = [&](const char* step) {
    return make_error(Errc::io, "metrics endpoint " + std::string(listen) + ": " + step + ": " + ec.message());
  };
  if (state->acceptor.open(endpoint->protocol(), ec); ec) return fail("socket");
  if (state->acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("SO_REUSEADDR");
  if (state->acceptor.bind(*endpoint, ec); ec) return fail("bind");
  if (state->acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  state->port = state->acceptor.local_endpoint(ec).port();
  if (ec) return fail("getsockname");
  accept_next(state);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

MetricsServer::MetricsServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() { stop(); }

std::uint16_t MetricsServer::port() const { return state_->port; }

void MetricsServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  beast::error_code ignored;
  state_->acceptor.close(ignored);
  for (const std::weak_ptr<Session>& w : state_->sessions) {
    if (std::shared_ptr<Session> s = w.lock()) s->close();
  }
  state_->sessions.clear();
}

}  // namespace ferry::telemetry

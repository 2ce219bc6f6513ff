#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <utility>
#include <vector>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "hw/frame_transport.h"

namespace ferry::hw {
namespace {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

class UnixTransport final : public FrameTransport {
 public:
  UnixTransport(asio::io_context& io, UnixTransportOptions options)
      : io_(io), options_(std::move(options)), timer_(io) {}
  ~UnixTransport() override { stop(); }

  void start(OnFrame on_frame, OnState on_state) override {
    on_frame_ = std::move(on_frame);
    on_state_ = std::move(on_state);
    running_ = true;
    if (options_.role == UnixTransportOptions::Role::listen) {
      listen();
    } else {
      connect();
    }
  }

  void send(crypto::ByteView frame) override {
    if (!socket_) {
      ++stats_.frames_dropped_down;
      return;
    }
    if (queued_bytes_ + frame.size() + 4 > options_.max_queued_bytes) {
      ++stats_.frames_dropped_queue_full;
      return;
    }
    crypto::Bytes buf(4 + frame.size());
    const auto n = static_cast<std::uint32_t>(frame.size());
    buf[0] = static_cast<std::uint8_t>(n >> 24);
    buf[1] = static_cast<std::uint8_t>(n >> 16);
    buf[2] = static_cast<std::uint8_t>(n >> 8);
    buf[3] = static_cast<std::uint8_t>(n);
    std::copy(frame.begin(), frame.end(), buf.begin() + 4);
    queued_bytes_ += buf.size();
    queue_.push_back(std::move(buf));
    write_next();
  }

  void stop() override {
    running_ = false;
    timer_.cancel();
    if (acceptor_) {
      boost::system::error_code ec;
      acceptor_->close(ec);
      ::unlink(options_.path.c_str());
    }
    drop_connection("stopped", false);
  }

  bool is_up() const override { return socket_ != nullptr; }
  std::size_t queued_bytes() const override { return queued_bytes_; }
  TransportStats stats() const override { return stats_; }

 private:
  void listen() {
    // A stale socket file from an earlier run would make bind fail; remove it
    // only if it is a socket, never a regular file someone put there.
    struct stat st;
    if (::lstat(options_.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(options_.path.c_str());
    acceptor_ = std::make_unique<stream::acceptor>(io_);
    boost::system::error_code ec;
    acceptor_->open(stream(), ec);
    if (!ec) acceptor_->bind(stream::endpoint(options_.path), ec);
    if (!ec) acceptor_->listen(4, ec);
    if (ec) {
      on_state_(false, "cannot listen on " + options_.path + ": " + ec.message());
      acceptor_.reset();
      retry_later(std::chrono::seconds(1), [this] { listen(); });
      return;
    }
    ::chmod(options_.path.c_str(), 0600);
    accept();
  }

  void accept() {
    auto next = std::make_shared<stream::socket>(io_);
    acceptor_->async_accept(*next, [this, next, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (alive.expired() || !running_) return;
      if (ec) {
        if (ec != asio::error::operation_aborted) accept();
        return;
      }
      if (socket_) drop_connection("replaced by a new connection", true);
      adopt(std::move(*next));
      accept();
    });
  }

  void connect() {
    auto next = std::make_shared<stream::socket>(io_);
    next->async_connect(stream::endpoint(options_.path), [this, next, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (alive.expired() || !running_) return;
      if (ec) {
        backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(5000));
        retry_later(backoff_, [this] { connect(); });
        return;
      }
      backoff_ = std::chrono::milliseconds(50);
      adopt(std::move(*next));
    });
  }

  void retry_later(std::chrono::milliseconds delay, std::function<void()> what) {
    timer_.expires_after(delay);
    timer_.async_wait([this, alive = std::weak_ptr<int>(alive_), what = std::move(what)](const boost::system::error_code& ec) {
      if (!alive.expired() && !ec && running_) what();
    });
  }

  // One accepted or connected stream with its own read buffers, so a replaced
  // connection's cancelled reads can never touch the new one's.
  //
  // Reads take whatever the socket holds (up to kReadBuffer) and hand every
  // whole frame in it to on_frame before reading again: a burst of small
  // frames costs one read and one turn of the loop, so what the owner posts
  // from on_frame (e.g. a group commit) runs once per burst, not per frame.
  struct Conn {
    Conn(stream::socket s, std::size_t max_frame)
        : socket(std::move(s)), in(std::max<std::size_t>(kReadBuffer, 4 + max_frame)) {}
    stream::socket socket;
    crypto::Bytes in;
    std::size_t have = 0;  // bytes of `in` holding data not yet handed on
  };
  static constexpr std::size_t kReadBuffer = 256 * 1024;
  static constexpr int kSocketBuffer = 4 * 1024 * 1024;
  // Frames written with one gathered write, at most.
  static constexpr std::size_t kWriteBatch = 64;

  void adopt(stream::socket socket) {
    // A kernel buffer that holds a link window's worth of frames (32 of at
    // most 64 KiB), so the peer always finds the next frames ready while this
    // side seals more; the default (about 200 KiB) holds three. Capped by
    // net.core.wmem_max; a refusal only costs throughput.
    boost::system::error_code ignored;
    socket.set_option(asio::socket_base::send_buffer_size(kSocketBuffer), ignored);
    socket.set_option(asio::socket_base::receive_buffer_size(kSocketBuffer), ignored);
    socket_ = std::make_shared<Conn>(std::move(socket), options_.max_frame);
    ++generation_;
    ++stats_.connects;
    on_state_(true, "connected");
    read_more(socket_, generation_);
  }

  // Every callback carries the generation of the connection it belongs to,
  // so completions of a replaced connection are ignored.
  void read_more(std::shared_ptr<Conn> s, std::uint64_t gen) {
    auto room = asio::buffer(s->in.data() + s->have, s->in.size() - s->have);
    s->socket.async_read_some(room, [this, s, gen, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec, std::size_t n) {
      if (alive.expired() || gen != generation_) return;
      if (ec) {
        if (ec == asio::error::eof) {
          return drop_connection(s->have == 0 ? "peer closed the connection" : "connection lost mid-frame: peer closed it", true);
        }
        return drop_connection(ec.message(), true);
      }
      s->have += n;
      std::size_t at = 0;
      while (s->have - at >= 4) {
        const std::uint8_t* h = s->in.data() + at;
        const std::size_t len = std::size_t{h[0]} << 24 | std::size_t{h[1]} << 16 | std::size_t{h[2]} << 8 | std::size_t{h[3]};
        if (len > options_.max_frame) {
          ++stats_.oversized_frames;
          return drop_connection("frame length " + std::to_string(len) + " exceeds the limit " +
                                     std::to_string(options_.max_frame),
                                 true);
        }
        if (s->have - at < 4 + len) break;
        ++stats_.frames_received;
        on_frame_(crypto::ByteView(s->in.data() + at + 4, len));
        if (gen != generation_ || !socket_) return;  // on_frame dropped or replaced the connection
        at += 4 + len;
      }
      // What is left is the start of the next frame: to the front.
      std::memmove(s->in.data(), s->in.data() + at, s->have - at);
      s->have -= at;
      read_more(s, gen);
    });
  }

  void write_next() {
    if (queue_.empty() || !socket_ || writing_ > 0) return;
    auto s = socket_;
    const std::uint64_t gen = generation_;
    std::vector<asio::const_buffer> buffers;
    for (std::size_t i = 0; i < queue_.size() && i < kWriteBatch; ++i) buffers.push_back(asio::buffer(queue_[i]));
    writing_ = buffers.size();
    asio::async_write(s->socket, buffers, [this, s, gen, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec, std::size_t) {
      if (alive.expired() || gen != generation_) return;
      const std::size_t sent = std::exchange(writing_, 0);
      if (ec) return drop_connection("write failed: " + ec.message(), true);
      for (std::size_t i = 0; i < sent; ++i) {
        ++stats_.frames_sent;
        queued_bytes_ -= queue_.front().size();
        queue_.pop_front();
      }
      write_next();
    });
  }

  void drop_connection(const std::string& why, bool notify) {
    if (!socket_) return;
    boost::system::error_code ec;
    socket_->socket.close(ec);
    socket_.reset();
    ++generation_;
    queue_.clear();
    queued_bytes_ = 0;
    writing_ = 0;
    if (notify) on_state_(false, why);
    if (running_ && options_.role == UnixTransportOptions::Role::connect) {
      retry_later(backoff_, [this] { connect(); });
    }
  }

  asio::io_context& io_;
  UnixTransportOptions options_;
  asio::steady_timer timer_;
  std::unique_ptr<stream::acceptor> acceptor_;
  std::shared_ptr<Conn> socket_;
  std::uint64_t generation_ = 0;
  std::deque<crypto::Bytes> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t writing_ = 0;  // frames at the front of queue_ in the write under way
  std::chrono::milliseconds backoff_{50};
  bool running_ = false;
  // Completion handlers hold a weak reference: after destruction they see it
  // expired and touch nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  OnFrame on_frame_;
  OnState on_state_;
  TransportStats stats_;
};

}  // namespace

std::unique_ptr<FrameTransport> make_unix_transport(boost::asio::io_context& io, UnixTransportOptions options) {
  return std::make_unique<UnixTransport>(io, std::move(options));
}

}  // namespace ferry::hw

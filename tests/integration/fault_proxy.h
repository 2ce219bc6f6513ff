// A fault-injecting proxy for the UNIX-socket link transport, run on its own
// thread inside a test process. It sits between the two sides: it listens on
// a path the outer side connects to, connects to the inner side's socket for
// each connection it accepts, and forwards whole frames (u32 big-endian
// length || frame, as hw/src/unix_transport.cc writes them) in both
// directions. Per frame, with a seeded std::mt19937_64, it drops, corrupts
// (one byte of the frame flipped; the length prefix is left intact so the
// stream stays parseable), duplicates, and holds back (sends the frame after
// the next few frames of its direction, or after a short delay if none
// follow) at configurable rates; every `cut_every` of connected time it closes
// both connections, and the outer side reconnects by itself. It counts what
// it did.
//
// The proxy's own time is bounded: its thread ends by itself after
// `max_lifetime`. stop() (and the destructor) wake the thread, join it, and
// close every descriptor and the listening socket's file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace ferry::test {

struct FaultProxyOptions {
  std::string listen_path;  // the outer side connects here
  std::string target_path;  // the inner side listens here
  // Per-frame probabilities, each drawn independently (a dropped frame gets
  // no other fault).
  double drop = 0;
  double duplicate = 0;
  double reorder = 0;
  double corrupt = 0;
  // A held frame goes out after 1..reorder_depth later frames of its
  // direction, or after reorder_max_delay if fewer follow.
  unsigned reorder_depth = 3;
  std::chrono::milliseconds reorder_max_delay{40};
  // Both connections are closed after this long connected; 0: never.
  std::chrono::milliseconds cut_every{0};
  std::uint64_t seed = 1;
  // A length field above this ends the connection (counted as oversized).
  std::size_t max_frame = 16u << 20;
  // Bytes buffered towards one side before the proxy stops reading from the
  // other (backpressure instead of unbounded memory).
  std::size_t max_buffered = 8u << 20;
  // The thread ends by itself after this long, whatever happens.
  std::chrono::milliseconds max_lifetime{std::chrono::minutes(5)};
};

struct FaultDirectionStats {
  std::uint64_t frames_in = 0;         // whole frames read from the sending side
  std::uint64_t bytes_in = 0;          // their bytes (without the length prefix)
  std::uint64_t frames_out = 0;        // frames handed on (duplicates counted)
  std::uint64_t dropped = 0;
  std::uint64_t duplicated = 0;        // frames sent twice
  std::uint64_t reordered = 0;         // frames held back
  std::uint64_t released_by_timer = 0; // held frames sent because no later frame came in time
  std::uint64_t corrupted = 0;         // frames with one byte flipped
  std::uint64_t corrupted_sealed = 0;  // ... of them, sealed frames (type >= 0x10)
  std::uint64_t corrupted_copies_out = 0;  // corrupted frames handed on (a duplicated one twice)
  std::uint64_t lost_in_cut = 0;       // held frames thrown away when the connection ended
};

struct FaultProxyStats {
  FaultDirectionStats outer_to_inner;
  FaultDirectionStats inner_to_outer;
  std::uint64_t accepted = 0;         // connections from the outer side
  std::uint64_t replaced = 0;         // an accepted connection that replaced a live one
  std::uint64_t connect_failures = 0; // the inner side was not there; the outer connection was closed
  std::uint64_t cuts = 0;             // connections the proxy cut on schedule
  std::uint64_t peer_closed = 0;      // connections ended by one of the sides (EOF or error)
  std::uint64_t oversized = 0;        // length fields above max_frame
  bool timed_out = false;             // the thread ended because max_lifetime ran out

  std::uint64_t corrupted() const { return outer_to_inner.corrupted + inner_to_outer.corrupted; }
  std::uint64_t dropped() const { return outer_to_inner.dropped + inner_to_outer.dropped; }
  std::uint64_t duplicated() const { return outer_to_inner.duplicated + inner_to_outer.duplicated; }
  std::uint64_t reordered() const { return outer_to_inner.reordered + inner_to_outer.reordered; }
  std::string to_string() const;
};

class FaultProxy {
 public:
  explicit FaultProxy(FaultProxyOptions options);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Binds the listening socket (replacing a stale socket file) and starts the
  // thread. False, with the reason, if it cannot.
  bool start(std::string* error = nullptr);
  // Idempotent: wakes the thread, joins it, closes everything.
  void stop();
  bool running() const { return running_.load(); }
  FaultProxyStats stats() const;

 private:
  struct Loop;
  void run();

  FaultProxyOptions options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() wakes the thread's poll
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  mutable std::mutex mu_;
  FaultProxyStats stats_;  // guarded by mu_
};

}  // namespace ferry::test

// Test doubles for the link engine's tests: the daemon's two halves (an
// in-memory ObjectSource and ObjectSink), a simulated datagram link that
// drops, duplicates, reorders, corrupts and cuts, and a pair of engines on
// real crypto (SoftwareCryptoDevice, generated SM2 keys) driven by a
// simulated clock. Everything is seeded, so a failure reproduces exactly.
#pragma once


#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "crypto/device.h"
#include "crypto/sm2.h"
#include "crypto/sm3.h"
#include "ferry/link/engine.h"

namespace ferry::link::test {

using crypto::ByteView;
using crypto::Bytes;
using namespace std::chrono_literals;

inline crypto::Sm2PrivateKey generated_key() {
  crypto::Result<crypto::Sm2PrivateKey> k = crypto::Sm2PrivateKey::generate();
  if (!k.ok()) throw std::runtime_error(k.error().message);
  return std::move(k).value();
}

// Three key pairs made once per test binary: outer, inner, and a stranger
// (a key that belongs to neither side, for the wrong-pin tests).
struct TestKeys {
  crypto::Sm2PrivateKey outer = generated_key();
  crypto::Sm2PrivateKey inner = generated_key();
  crypto::Sm2PrivateKey stranger = generated_key();
  static const TestKeys& get() {
    static const TestKeys keys;
    return keys;
  }
};

inline constexpr crypto::KeyIndex kIdentitySlot{1};

// One side's crypto device with its identity key installed, as ferryd does.
struct Device {
  explicit Device(const crypto::Sm2PrivateKey& key) {
    if (!device.install_key(kIdentitySlot, key).ok()) throw std::runtime_error("install_key");
    auto s = device.open_session();
    if (!s.ok()) throw std::runtime_error(s.error().message);
    session = std::move(s).value();
  }
  crypto::SoftwareCryptoDevice device;
  std::unique_ptr<crypto::CryptoSession> session;
};

inline ObjectId make_id(std::uint64_t n, std::uint8_t tag) {
  ObjectId id;
  id.bytes[0] = tag;
  for (int i = 0; i < 8; ++i) id.bytes[15 - i] = static_cast<std::uint8_t>(n >> (8 * i));
  return id;
}

inline Bytes pattern(std::uint64_t seed, std::size_t size) {
  std::mt19937_64 rng(seed);
  Bytes b(size);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t v = rng();
    for (int k = 0; k < 8; ++k) b[i + k] = static_cast<std::uint8_t>(v >> (8 * k));
  }
  for (; i < size; ++i) b[i] = static_cast<std::uint8_t>(rng());
  return b;
}

// The sending daemon's spool, in memory.
class FakeSource : public ObjectSource {
 public:
  ObjectId add(ObjectId id, std::string channel, std::string path, Bytes content) {
    OutgoingObject o{id, std::move(channel), std::move(path), content.size(), crypto::Sm3::digest(content)};
    content_[id] = std::move(content);
    objects_[id] = o;
    queue_.push_back(std::move(o));
    return id;
  }
  // The same object offered again (a restarted daemon re-queues from its spool).
  void requeue(const ObjectId& id) { queue_.push_back(objects_.at(id)); }
  // A restarted daemon re-queues everything it had handed to the old engine.
  void requeue_in_flight() {
    for (const ObjectId& id : handed_out) queue_.push_front(objects_.at(id));
    handed_out.clear();
  }

  std::optional<OutgoingObject> next() override {
    if (queue_.empty()) return std::nullopt;
    OutgoingObject o = queue_.front();
    queue_.pop_front();
    handed_out.insert(o.id);
    return o;
  }
  crypto::Result<std::size_t> read(const ObjectId& id, std::uint64_t offset, crypto::MutableByteView out) override {
    reads.emplace_back(id, offset);
    auto it = content_.find(id);
    if (it == content_.end() || offset + out.size() > it->second.size()) {
      return crypto::make_error(crypto::Errc::io, "no such bytes");
    }
    std::copy_n(it->second.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    return out.size();
  }
  void on_done(const ObjectId& id) override {
    done[id]++;
    handed_out.erase(id);
  }
  void on_rejected(const ObjectId& id, std::uint16_t code, std::string_view text) override {
    rejected[id] = {code, std::string(text)};
    handed_out.erase(id);
  }

  const Bytes& content(const ObjectId& id) const { return content_.at(id); }
  std::size_t queued() const { return queue_.size(); }

  std::map<ObjectId, int> done;
  std::map<ObjectId, std::pair<std::uint16_t, std::string>> rejected;
  std::set<ObjectId> handed_out;  // taken by the engine, not yet done or rejected
  std::vector<std::pair<ObjectId, std::uint64_t>> reads;

 private:
  std::deque<OutgoingObject> queue_;
  std::map<ObjectId, Bytes> content_;
  std::map<ObjectId, OutgoingObject> objects_;
};

// The receiving daemon's spool: partial bytes that survive an engine restart,
// the exactly-once store of delivered ids, and faults to inject.
class FakeSink : public ObjectSink {
 public:
  OfferAnswer offer(const IncomingObject& o) override {
    offers++;
    if (delivered.contains(o.id)) return OfferAnswer::duplicate();
    if (reject_channel && o.channel == *reject_channel) {
      return OfferAnswer::reject(reject_code::first_daemon_code + 1, "channel " + o.channel + " is not allowed");
    }
    if (busy) return OfferAnswer::busy();
    metadata[o.id] = o;
    return OfferAnswer::accept(partial[o.id].size());
  }
  crypto::Status write(const ObjectId& id, std::uint64_t offset, ByteView data) override {
    writes.emplace_back(id, offset);
    Bytes& p = partial[id];
    if (offset != p.size()) {
      contract_violations++;
      return crypto::make_error(crypto::Errc::io, "write not contiguous");
    }
    if (fail_writes_after && *fail_writes_after < data.size()) {
      fail_writes_after.reset();
      return crypto::make_error(crypto::Errc::io, "No space left on device");
    }
    if (fail_writes_after) *fail_writes_after -= data.size();
    p.insert(p.end(), data.begin(), data.end());
    return {};
  }
  CompleteAnswer complete(const ObjectId& id, std::uint64_t total, const crypto::Sm3Digest& sm3) override {
    completes++;
    if (defer_completes) {
      if (deferred.contains(id)) completed_while_pending++;
      deferred.emplace(id, Deferred{total, sm3, next_deferral++});
      return CompleteAnswer::pending();
    }
    crypto::Status st = commit(id, total, sm3);
    return st.ok() ? CompleteAnswer::committed() : CompleteAnswer::failed(st.error().message);
  }

  // Group commit, as ferryd would do it: what complete() answered pending
  // for is committed here, and the outcome goes to LinkEngine::completed.
  crypto::Status commit_deferred(const ObjectId& id) {
    auto it = deferred.find(id);
    if (it == deferred.end()) throw std::logic_error("no deferred completion for " + id.hex());
    const Deferred d = it->second;
    deferred.erase(it);
    return commit(id, d.total, d.sm3);
  }
  // The deferred ids in the order complete() was called for them.
  std::vector<ObjectId> deferred_in_order() const {
    std::vector<std::pair<std::uint64_t, ObjectId>> v;
    for (const auto& [id, d] : deferred) v.emplace_back(d.order, id);
    std::sort(v.begin(), v.end());
    std::vector<ObjectId> ids;
    for (const auto& [order, id] : v) ids.push_back(id);
    return ids;
  }

  crypto::Status commit(const ObjectId& id, std::uint64_t total, const crypto::Sm3Digest& sm3) {
    Bytes p = std::move(partial[id]);
    partial.erase(id);
    if (fail_complete_times[id] > 0) {
      fail_complete_times[id]--;
      return crypto::make_error(crypto::Errc::verify_failed, "SM3 mismatch (injected)");
    }
    if (p.size() != total) return crypto::make_error(crypto::Errc::verify_failed, "size mismatch");
    if (crypto::Sm3::digest(p) != sm3) return crypto::make_error(crypto::Errc::verify_failed, "SM3 mismatch");
    if (delivered.contains(id)) commits_twice++;
    delivered[id] = std::move(p);
    return {};
  }

  struct Deferred {
    std::uint64_t total = 0;
    crypto::Sm3Digest sm3{};
    std::uint64_t order = 0;
  };

  bool busy = false;
  bool defer_completes = false;  // complete() answers pending; see commit_deferred
  std::map<ObjectId, Deferred> deferred;
  std::uint64_t next_deferral = 0;
  int completed_while_pending = 0;  // complete() again for an id still pending: a contract violation
  std::optional<std::string> reject_channel;
  std::map<ObjectId, int> fail_complete_times;
  std::optional<std::size_t> fail_writes_after;
  std::map<ObjectId, Bytes> partial;
  std::map<ObjectId, Bytes> delivered;
  std::map<ObjectId, IncomingObject> metadata;
  std::vector<std::pair<ObjectId, std::uint64_t>> writes;
  int offers = 0;
  int completes = 0;
  int commits_twice = 0;
  int contract_violations = 0;
};

struct Faults {
  double drop = 0;
  double duplicate = 0;
  double reorder = 0;     // probability of an extra random delay
  double corrupt = 0;     // probability of flipping 1..3 random bytes
  std::chrono::microseconds delay = 500us;
  // Each direction carries this many bytes per second: frames queue behind
  // each other as on a real wire, so that a transfer takes simulated time.
  std::uint64_t bytes_per_second = 200'000'000;
  std::chrono::microseconds reorder_spread = 3ms;
  std::chrono::milliseconds cut_every{0};   // > 0: cut the link at this period ...
  std::chrono::milliseconds cut_for{0};     // ... for this long (the transport reconnects)
};

struct LinkStats {
  std::uint64_t sent = 0, dropped = 0, duplicated = 0, reordered = 0, corrupted = 0, lost_in_cut = 0;
};

// A datagram link between two endpoints (0 = outer, 1 = inner).
class SimLink {
 public:
  SimLink(Faults faults, std::uint64_t seed) : faults_(faults), rng_(seed) {}

  void send(int from, ByteView frame, TimePoint now) {
    stats.sent++;
    if (down_ || silent_) {
      stats.lost_in_cut++;
      return;
    }
    if (tap) tap(from, frame);
    if (chance(faults_.drop)) {
      stats.dropped++;
      return;
    }
    // Serialisation: the frame leaves when the wire is free.
    TimePoint& free_at = wire_free_[from];
    const TimePoint departure = std::max(now, free_at) +
                                std::chrono::nanoseconds(frame.size() * 1'000'000'000ull / faults_.bytes_per_second);
    free_at = departure;
    int copies = 1;
    if (chance(faults_.duplicate)) {
      stats.duplicated++;
      copies = 2;
    }
    for (int c = 0; c < copies; ++c) {
      Bytes b(frame.begin(), frame.end());
      if (mutate) mutate(from, b);
      if (chance(faults_.corrupt) && !b.empty()) {
        stats.corrupted++;
        const int flips = 1 + static_cast<int>(rng_() % 3);
        for (int i = 0; i < flips; ++i) b[rng_() % b.size()] ^= static_cast<std::uint8_t>(1 + rng_() % 255);
      }
      auto at = departure + faults_.delay;
      if (chance(faults_.reorder)) {
        stats.reordered++;
        at += std::chrono::microseconds(rng_() % static_cast<std::uint64_t>(faults_.reorder_spread.count() + 1));
      }
      queue_.push(InFlight{at, order_++, 1 - from, std::move(b)});
    }
  }

  // Delivers every frame due by now, in time order.
  template <class Deliver>
  void deliver_due(TimePoint now, Deliver&& deliver) {
    while (!queue_.empty() && queue_.top().at <= now) {
      InFlight f = queue_.top();
      queue_.pop();
      if (down_ || silent_) {
        stats.lost_in_cut++;
        continue;
      }
      deliver(f.to, f.frame);
    }
  }

  // A frame from nowhere (a replay, a late copy), arriving at `at`.
  void inject(int to, Bytes frame, TimePoint at) { queue_.push(InFlight{at, order_++, to, std::move(frame)}); }

  std::optional<TimePoint> next_arrival() const {
    if (queue_.empty()) return std::nullopt;
    return queue_.top().at;
  }

  // A cut the transport notices (the socket closes): frames in flight are lost.
  void set_down(bool down) {
    down_ = down;
    if (down) clear();
  }
  // A cut nobody notices (a cable pulled on raw Ethernet): only keepalives tell.
  void set_silent(bool silent) {
    silent_ = silent;
    if (silent) clear();
  }
  bool down() const { return down_; }

  const Faults& faults() const { return faults_; }
  LinkStats stats;
  std::function<void(int from, ByteView frame)> tap;     // sees every frame sent
  std::function<void(int from, Bytes& frame)> mutate;    // may alter a frame in transit

 private:
  struct InFlight {
    TimePoint at;
    std::uint64_t order;
    int to;
    Bytes frame;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void clear() {
    while (!queue_.empty()) {
      stats.lost_in_cut++;
      queue_.pop();
    }
  }
  Faults faults_;
  std::mt19937_64 rng_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> queue_;
  std::uint64_t order_ = 0;
  TimePoint wire_free_[2] = {};
  bool down_ = false;
  bool silent_ = false;
};

inline LinkParams test_params(Side side) {
  LinkParams p = LinkParams::defaults(side);
  p.keepalive_interval = 100ms;
  p.retransmit_timeout = 20ms;
  p.busy_retry = 50ms;
  p.handshake_retry = 200ms;
  p.dead_after_keepalives = 5;
  return p;
}

struct Endpoint {
  FakeSource source;
  FakeSink sink;
  std::unique_ptr<LinkEngine> engine;
  std::vector<LinkEvent> events;

  bool has_event(LinkEventKind kind) const {
    for (const auto& e : events) {
      if (e.kind == kind) return true;
    }
    return false;
  }
  std::vector<std::string> texts(LinkEventKind kind) const {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (e.kind == kind) out.push_back(e.text);
    }
    return out;
  }
  LinkStatus status() const { return engine->status(); }
  // The sink commits a deferred object and tells the engine, from outside its calls.
  void commit_deferred(const ObjectId& id, TimePoint now) { engine->completed(id, sink.commit_deferred(id), now); }
};

// Two engines, one per side, over a SimLink, on a simulated clock.
class Pair {
 public:
  struct Options {
    LinkParams outer = test_params(Side::outer);
    LinkParams inner = test_params(Side::inner);
    Faults faults;
    std::uint64_t seed = 1;
    // Which public key each side pins (default: the other side's).
    const crypto::Sm2PrivateKey* outer_pins = nullptr;
    const crypto::Sm2PrivateKey* inner_pins = nullptr;
  };

  explicit Pair(Options options)
      : outer_device_(TestKeys::get().outer),
        inner_device_(TestKeys::get().inner),
        options_(std::move(options)),
        link(options_.faults, options_.seed) {
    make_outer();
    make_inner();
  }

  // A new engine object for a side, as after a daemon restart; the source
  // and sink (the spool) survive.
  void make_outer() {
    const auto& keys = TestKeys::get();
    const crypto::Sm2PrivateKey& pin = options_.outer_pins ? *options_.outer_pins : keys.inner;
    outer.engine = std::make_unique<LinkEngine>(
        options_.outer, *outer_device_.session, kIdentitySlot, pin.public_key(), &outer.source, &outer.sink,
        [this](ByteView f) { link.send(0, f, now); }, [this](const LinkEvent& e) { outer.events.push_back(e); });
  }
  void make_inner() {
    const auto& keys = TestKeys::get();
    const crypto::Sm2PrivateKey& pin = options_.inner_pins ? *options_.inner_pins : keys.outer;
    inner.engine = std::make_unique<LinkEngine>(
        options_.inner, *inner_device_.session, kIdentitySlot, pin.public_key(), &inner.source, &inner.sink,
        [this](ByteView f) { link.send(1, f, now); }, [this](const LinkEvent& e) { inner.events.push_back(e); });
  }

  void connect() {
    inner.engine->connected(now);
    outer.engine->connected(now);
  }

  bool both_up() const {
    return outer.engine->status().state == LinkState::up && inner.engine->status().state == LinkState::up;
  }

  // One step of the simulation: deliver what is due, tick both, advance the
  // clock to the next thing that happens.
  void step() {
    link.deliver_due(now, [this](int to, const Bytes& frame) {
      (to == 0 ? outer : inner).engine->receive(frame, now);
    });
    outer.engine->tick(now);
    inner.engine->tick(now);
    handle_cuts();
    std::optional<TimePoint> next = link.next_arrival();
    for (const auto* e : {&outer, &inner}) {
      std::optional<TimePoint> d = e->engine->next_deadline();
      if (d && (!next || *d < *next)) next = d;
    }
    if (next_cut_change_ && (!next || *next_cut_change_ < *next)) next = next_cut_change_;
    const TimePoint floor = now + 50us;
    const TimePoint ceiling = now + 10ms;
    now = !next ? ceiling : std::clamp(*next, floor, ceiling);
    ++steps;
  }

  // Runs until pred() holds or the simulated time limit passes.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 120s) {
    const TimePoint end = now + limit;
    while (now < end) {
      if (pred()) return true;
      step();
    }
    return pred();
  }
  void run_for(std::chrono::milliseconds d) {
    const TimePoint end = now + d;
    while (now < end) step();
  }

  // Declared first so that they outlive the engines that use them.
 private:
  Device outer_device_;
  Device inner_device_;

 public:
  Endpoint outer;
  Endpoint inner;
  Options options_;
  SimLink link;
  TimePoint now = TimePoint{} + 1000h;
  std::uint64_t steps = 0;

 private:
  void handle_cuts() {
    const Faults& f = options_.faults;
    if (f.cut_every.count() == 0) return;
    if (!next_cut_change_) next_cut_change_ = now + f.cut_every;
    if (now < *next_cut_change_) return;
    if (!link.down()) {
      link.set_down(true);
      outer.engine->disconnected();
      inner.engine->disconnected();
      next_cut_change_ = now + f.cut_for;
      cuts++;
    } else {
      link.set_down(false);
      inner.engine->connected(now);
      outer.engine->connected(now);
      next_cut_change_ = now + f.cut_every;
    }
  }
  std::optional<TimePoint> next_cut_change_;

 public:
  int cuts = 0;
};

}  // namespace ferry::link::test

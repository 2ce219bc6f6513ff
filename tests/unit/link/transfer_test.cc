// Reliable object transfer over a faulty link (docs/link-protocol.md §6):
// every object delivered exactly once with the right SM3, both directions at
// once, under drops, duplicates, reordering, corruption and cuts; rekeying
// mid-transfer; backpressure; sink failures; dead-link detection and resume
// from the acknowledged offset.
#include <gtest/gtest.h>

#include "tests/unit/link/link_harness.h"

namespace ferry::link::test {
namespace {

struct Workload {
  std::vector<ObjectId> outbound;  // outer -> inner
  std::vector<ObjectId> inbound;   // inner -> outer
};

// count objects per direction: the edge sizes first (0, 1, a chunk and its
// neighbours), then seeded random sizes up to max_size.
Workload add_workload(Pair& p, std::uint64_t seed, int count, std::size_t max_size) {
  std::mt19937_64 rng(seed);
  const std::size_t chunk = p.options_.outer.chunk_size;
  const std::vector<std::size_t> edges = {0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk};
  Workload w;
  for (int dir = 0; dir < 2; ++dir) {
    Endpoint& from = dir == 0 ? p.outer : p.inner;
    for (int i = 0; i < count; ++i) {
      const std::size_t size = static_cast<std::size_t>(i) < edges.size() ? edges[i] : rng() % (max_size + 1);
      const ObjectId id = make_id(seed * 1000 + static_cast<std::uint64_t>(i), dir == 0 ? 0xA0 : 0xB0);
      const std::string path = "子目录 " + std::to_string(i % 3) + "/文件 " + std::to_string(i) + ".bin";
      from.source.add(id, dir == 0 ? "docs-in" : "release-out", path, pattern(rng(), size));
      (dir == 0 ? w.outbound : w.inbound).push_back(id);
    }
  }
  return w;
}

bool all_done(const Pair& p, const Workload& w) {
  for (const ObjectId& id : w.outbound) {
    if (!p.outer.source.done.contains(id)) return false;
  }
  for (const ObjectId& id : w.inbound) {
    if (!p.inner.source.done.contains(id)) return false;
  }
  return true;
}

void expect_exactly_once(const Pair& p, const Workload& w) {
  for (int dir = 0; dir < 2; ++dir) {
    const Endpoint& from = dir == 0 ? p.outer : p.inner;
    const Endpoint& to = dir == 0 ? p.inner : p.outer;
    const auto& ids = dir == 0 ? w.outbound : w.inbound;
    EXPECT_EQ(to.sink.delivered.size(), ids.size()) << "nothing extra, nothing missing";
    for (const ObjectId& id : ids) {
      auto it = to.sink.delivered.find(id);
      ASSERT_NE(it, to.sink.delivered.end()) << id.hex();
      EXPECT_EQ(crypto::Sm3::digest(it->second), crypto::Sm3::digest(from.source.content(id))) << id.hex();
      auto done = from.source.done.find(id);
      ASSERT_NE(done, from.source.done.end());
      EXPECT_EQ(done->second, 1) << id.hex();
    }
    EXPECT_TRUE(from.source.rejected.empty());
    EXPECT_EQ(to.sink.commits_twice, 0);
    EXPECT_EQ(to.sink.contract_violations, 0);
  }
}

std::string counters_text(const Pair& p) {
  std::string s;
  for (const auto* e : {&p.outer, &p.inner}) {
    const LinkCounters c = e->status().counters;
    s += std::string(e == &p.outer ? "outer" : "inner") + ": in " + std::to_string(c.frames_in) + " out " +
         std::to_string(c.frames_out) + " malformed " + std::to_string(c.dropped.malformed) + " wrong_session " +
         std::to_string(c.dropped.wrong_session) + " replay " + std::to_string(c.dropped.replay) + " old " +
         std::to_string(c.dropped.out_of_window) + " corrupt " + std::to_string(c.dropped.corrupt) + " unexpected " +
         std::to_string(c.dropped.unexpected) + " retransmitted " + std::to_string(c.data_retransmitted) +
         " timeouts " + std::to_string(c.timeouts) + " handshakes " + std::to_string(c.handshakes) + "\n";
  }
  return s;
}

TEST(Transfer, ManyObjectsBothDirectionsNoFaults) {
  Pair p(Pair::Options{});
  const Workload w = add_workload(p, 11, 30, 3 << 20);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return all_done(p, w); }, 60s)) << counters_text(p);
  expect_exactly_once(p, w);
  const LinkCounters a = p.outer.status().counters;
  EXPECT_EQ(a.dropped.malformed + a.dropped.corrupt + a.dropped.replay + a.dropped.wrong_session, 0u);
  EXPECT_EQ(a.objects_sent, 30u);
  EXPECT_EQ(a.objects_received, 30u);
  EXPECT_EQ(p.outer.status().objects_sending, 0u);
  EXPECT_EQ(p.inner.status().objects_receiving, 0u);
}

struct FaultCase {
  const char* name;
  Faults faults;
};
void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

class TransferUnderFaults : public ::testing::TestWithParam<FaultCase> {};

TEST_P(TransferUnderFaults, EveryObjectArrivesExactlyOnce) {
  Pair::Options o;
  o.faults = GetParam().faults;
  o.seed = 1234;
  Pair p(o);
  const Workload w = add_workload(p, 22, 14, 1 << 20);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return all_done(p, w); }, 600s)) << counters_text(p);
  expect_exactly_once(p, w);
  const LinkCounters a = p.outer.status().counters;
  const LinkCounters b = p.inner.status().counters;
  const Faults& f = GetParam().faults;
  if (f.corrupt > 0) {
    EXPECT_GT(a.dropped.corrupt + b.dropped.corrupt, 0u) << counters_text(p);
  }
  if (f.corrupt >= 0.05) {  // enough flips to hit headers as well
    EXPECT_GT(a.dropped.malformed + b.dropped.malformed + a.dropped.wrong_session + b.dropped.wrong_session, 0u)
        << counters_text(p);
  }
  if (f.duplicate > 0) {
    EXPECT_GT(a.dropped.replay + b.dropped.replay, 0u) << counters_text(p);
  }
  if (f.drop > 0) {
    EXPECT_GT(a.data_retransmitted + b.data_retransmitted, 0u) << counters_text(p);
  }
  if (f.cut_every.count() > 0) {
    EXPECT_GT(p.cuts, 0);
    EXPECT_TRUE(p.outer.has_event(LinkEventKind::link_closed));
    EXPECT_GT(a.handshakes, 1u);
  }
}

Faults make(double drop, double dup, double reorder, double corrupt, int cut_every_ms = 0, int cut_for_ms = 0) {
  Faults f;
  f.drop = drop;
  f.duplicate = dup;
  f.reorder = reorder;
  f.corrupt = corrupt;
  f.cut_every = std::chrono::milliseconds(cut_every_ms);
  f.cut_for = std::chrono::milliseconds(cut_for_ms);
  return f;
}

INSTANTIATE_TEST_SUITE_P(Faults, TransferUnderFaults,
                         ::testing::Values(FaultCase{"drop", make(0.05, 0, 0, 0)},
                                           FaultCase{"duplicate", make(0, 0.2, 0, 0)},
                                           FaultCase{"reorder", make(0, 0, 0.3, 0)},
                                           FaultCase{"corrupt", make(0, 0, 0, 0.05)},
                                           FaultCase{"cut", make(0, 0, 0, 0, 25, 10)},
                                           FaultCase{"all", make(0.03, 0.05, 0.1, 0.03, 40, 10)}),
                         [](const ::testing::TestParamInfo<FaultCase>& c) { return std::string(c.param.name); });

// Ethernet-sized frames (1500 bytes, so 1404-byte chunks) and a deep window,
// with every fault at once.
TEST(Transfer, SmallFramesUnderAllFaults) {
  Pair::Options o;
  for (LinkParams* lp : {&o.outer, &o.inner}) {
    lp->max_frame = 1500;
    lp->chunk_size = 1500 - kFrameOverhead;
    lp->window = 64;
  }
  o.faults = make(0.02, 0.02, 0.1, 0.02, 20, 5);
  o.seed = 99;
  Pair p(o);
  const Workload w = add_workload(p, 33, 12, 150000);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return all_done(p, w); }, 600s)) << counters_text(p);
  expect_exactly_once(p, w);
}

TEST(Transfer, RekeyByBytesMidTransferKeepsTransfersGoing) {
  Pair::Options o;
  o.outer.rekey_bytes = 1 << 20;
  // Less in flight, so that handshake frames do not queue behind megabytes of data.
  for (LinkParams* lp : {&o.outer, &o.inner}) {
    lp->window = 4;
    lp->max_objects_in_flight = 2;
  }
  o.faults = make(0, 0, 0.2, 0);        // reordering carries frames across the key switch
  Pair p(o);
  const Workload w = add_workload(p, 44, 10, 2 << 20);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return all_done(p, w); }, 120s)) << counters_text(p);
  expect_exactly_once(p, w);
  EXPECT_GE(p.outer.status().counters.handshakes, 5u) << counters_text(p);
  EXPECT_GE(p.inner.texts(LinkEventKind::rekeyed).size(), 4u);
  EXPECT_FALSE(p.outer.has_event(LinkEventKind::link_dead));
}

TEST(Transfer, RekeyByTimeMidTransferKeepsTransfersGoing) {
  Pair::Options o;
  o.outer.rekey_interval = 15ms;
  for (LinkParams* lp : {&o.outer, &o.inner}) {
    lp->window = 4;
    lp->max_objects_in_flight = 2;
  }
  o.faults = make(0.01, 0, 0.2, 0);
  Pair p(o);
  const Workload w = add_workload(p, 55, 10, 3 << 20);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return all_done(p, w); }, 120s)) << counters_text(p);
  expect_exactly_once(p, w);
  EXPECT_GE(p.outer.texts(LinkEventKind::rekeyed).size(), 3u) << counters_text(p);
  // The session id changes with each rekey.
  const std::uint64_t before = p.outer.status().session_id;
  p.run_for(50ms);
  EXPECT_NE(p.outer.status().session_id, before);
  EXPECT_EQ(p.outer.status().session_id, p.inner.status().session_id);
}

TEST(Transfer, BusyReceiverHoldsObjectsUntilSpaceReturns) {
  Pair p(Pair::Options{});
  std::vector<ObjectId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(p.outer.source.add(make_id(i, 0xA1), "docs-in", "f" + std::to_string(i), pattern(i, 200000)));
  p.inner.sink.busy = true;
  p.connect();
  p.run_for(1s);
  EXPECT_TRUE(p.inner.sink.delivered.empty());
  EXPECT_EQ(p.outer.status().objects_sending, 3u) << "the sender keeps them";
  EXPECT_TRUE(p.outer.source.rejected.empty());
  EXPECT_GT(p.inner.sink.offers, 6) << "offered again after busy_retry";
  EXPECT_TRUE(p.outer.source.reads.empty()) << "no byte moves while busy";
  p.inner.sink.busy = false;
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.size() == 3; }, 10s));
  for (const ObjectId& id : ids) EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
}

TEST(Transfer, WriteFailureMidObjectPausesAndResumesWhereTheSinkStands) {
  Pair p(Pair::Options{});
  const ObjectId id = p.outer.source.add(make_id(1, 0xA2), "docs-in", "big.bin", pattern(5, 3 << 20));
  p.inner.sink.fail_writes_after = 1 << 20;  // "No space left on device" after 1 MiB
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 20s)) << counters_text(p);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_TRUE(p.inner.has_event(LinkEventKind::object_write_failed));
  // Resumed, not restarted: exactly one write at offset 0.
  int at_zero = 0;
  for (const auto& [wid, off] : p.inner.sink.writes) at_zero += (wid == id && off == 0);
  EXPECT_EQ(at_zero, 1);
  EXPECT_EQ(p.inner.sink.contract_violations, 0);
}

TEST(Transfer, CompleteFailureRestartsFromZeroThenDeliversOnce) {
  Pair p(Pair::Options{});
  const ObjectId id = p.outer.source.add(make_id(1, 0xA3), "docs-in", "x.bin", pattern(6, 500000));
  p.inner.sink.fail_complete_times[id] = 1;
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 20s)) << counters_text(p);
  EXPECT_EQ(p.inner.sink.completes, 2);
  EXPECT_EQ(p.inner.sink.delivered.size(), 1u);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_EQ(p.outer.source.done.at(id), 1);
  int at_zero = 0;
  for (const auto& [wid, off] : p.inner.sink.writes) at_zero += (wid == id && off == 0);
  EXPECT_EQ(at_zero, 2) << "the second attempt starts from offset 0";
  EXPECT_TRUE(p.inner.has_event(LinkEventKind::object_restarted));
}

// The first attempt's final ACK arrives late, after the second attempt
// began (a RESTART after a failed complete): acting on it would make the
// sender skip a chunk that the receiver lost in the second attempt.
TEST(Transfer, ALateAckFromAnEarlierAttemptIsIgnored) {
  Pair p(Pair::Options{});
  const std::size_t chunk = p.options_.outer.chunk_size;
  const ObjectId id = p.outer.source.add(make_id(1, 0xAB), "docs-in", "x.bin", pattern(14, 10 * chunk));
  p.inner.sink.fail_complete_times[id] = 1;
  Bytes late_ack;
  bool restarted = false;
  bool dropped_chunk = false;
  bool injected = false;
  const auto type_of = [](const Bytes& f) { return f.size() > 5 ? static_cast<FrameType>(f[5]) : FrameType::hello; };
  const auto offset_of = [](const Bytes& f) {
    std::uint64_t v = 0;
    for (int i = 40; i < 48; ++i) v = (v << 8) | f[i];
    return v;
  };
  p.link.mutate = [&](int from, Bytes& f) {
    if (from == 1 && type_of(f) == FrameType::ack && !restarted && offset_of(f) == 10 * chunk) {
      late_ack = f;  // held back
      f.clear();
    } else if (from == 1 && type_of(f) == FrameType::restart) {
      restarted = true;
    } else if (from == 0 && restarted && !dropped_chunk && type_of(f) == FrameType::data && offset_of(f) == 3 * chunk) {
      dropped_chunk = true;  // lost in the second attempt
      f.clear();
    } else if (from == 1 && restarted && !injected && type_of(f) == FrameType::accept) {
      injected = true;
      p.link.inject(0, late_ack, p.now + 2ms);
    }
  };
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 20s)) << counters_text(p);
  ASSERT_TRUE(injected && dropped_chunk && !late_ack.empty());
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_GE(p.outer.status().counters.dropped.unexpected, 1u);
}

TEST(Transfer, CompleteFailingEveryTimeIsRejectedAfterThreeAttempts) {
  Pair p(Pair::Options{});
  const ObjectId id = p.outer.source.add(make_id(1, 0xA4), "docs-in", "x.bin", pattern(7, 100000));
  p.inner.sink.fail_complete_times[id] = 1000;
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.rejected.contains(id); }, 20s)) << counters_text(p);
  EXPECT_EQ(p.outer.source.rejected.at(id).first, reject_code::complete_failed);
  EXPECT_NE(p.outer.source.rejected.at(id).second.find("after 3 attempts"), std::string::npos);
  EXPECT_EQ(p.inner.sink.completes, 3);
  EXPECT_TRUE(p.inner.sink.delivered.empty());
  EXPECT_FALSE(p.outer.source.done.contains(id));
}

TEST(Transfer, SinkRejectionReachesTheSourceWithCodeAndText) {
  Pair p(Pair::Options{});
  p.inner.sink.reject_channel = "forbidden";
  const ObjectId bad = p.outer.source.add(make_id(1, 0xA5), "forbidden", "x", pattern(8, 10));
  const ObjectId good = p.outer.source.add(make_id(2, 0xA5), "docs-in", "y", pattern(9, 10));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(good) && p.outer.source.rejected.contains(bad); }, 5s));
  EXPECT_EQ(p.outer.source.rejected.at(bad).first, reject_code::first_daemon_code + 1);
  EXPECT_EQ(p.outer.source.rejected.at(bad).second, "channel forbidden is not allowed");
  EXPECT_FALSE(p.inner.sink.delivered.contains(bad));
}

// Keepalives find a link that died without anyone noticing (a pulled cable on
// raw Ethernet); after it returns, the transfer resumes from the
// acknowledged offset instead of starting again.
TEST(Transfer, DeadLinkIsDetectedAndTheTransferResumesMidObject) {
  Pair p(Pair::Options{});
  const ObjectId id = p.outer.source.add(make_id(1, 0xA6), "docs-in", "big.bin", pattern(10, 8 << 20));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.partial[id].size() >= (3u << 20); }, 20s));
  const std::uint64_t held = p.inner.sink.partial[id].size();
  p.link.set_silent(true);
  ASSERT_TRUE(p.run_until([&] {
    return p.outer.has_event(LinkEventKind::link_dead) && p.inner.has_event(LinkEventKind::link_dead);
  }, 5s));
  EXPECT_NE(p.outer.texts(LinkEventKind::link_dead)[0].find("5 keepalive intervals of 100 ms"), std::string::npos);
  EXPECT_EQ(p.outer.status().state, LinkState::handshaking);
  p.run_for(300ms);
  const std::size_t reads_before = p.outer.source.reads.size();
  const std::size_t writes_before = p.inner.sink.writes.size();
  p.link.set_silent(false);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 30s)) << counters_text(p);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  ASSERT_GT(p.outer.source.reads.size(), reads_before);
  EXPECT_EQ(p.outer.source.reads[reads_before].second, held) << "the first read after the link returned";
  for (std::size_t i = reads_before; i < p.outer.source.reads.size(); ++i) EXPECT_GE(p.outer.source.reads[i].second, held);
  ASSERT_GT(p.inner.sink.writes.size(), writes_before);
  EXPECT_EQ(p.inner.sink.writes[writes_before].second, held);
  EXPECT_EQ(p.inner.sink.contract_violations, 0);
}

// The receiving daemon restarts mid-object: a new engine, the same spool. The
// sink says how much it holds; the transfer resumes there, not at 0.
TEST(Transfer, ReceiverRestartResumesFromTheSinksBytes) {
  Pair p(Pair::Options{});
  const ObjectId id = p.outer.source.add(make_id(1, 0xA7), "docs-in", "big.bin", pattern(11, 6 << 20));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.partial[id].size() >= (2u << 20); }, 20s));
  p.link.set_down(true);
  p.outer.engine->disconnected();
  p.make_inner();
  const std::uint64_t held = p.inner.sink.partial[id].size();
  const std::size_t writes_before = p.inner.sink.writes.size();
  p.link.set_down(false);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 30s)) << counters_text(p);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  ASSERT_GT(p.inner.sink.writes.size(), writes_before);
  EXPECT_EQ(p.inner.sink.writes[writes_before].second, held);
  EXPECT_GT(held, 0u);
}

// The sending daemon restarts: its spool queues the object again, the
// receiver's engine still knows the transfer and answers ACCEPT at its offset.
TEST(Transfer, SenderRestartResumesFromTheReceiversOffset) {
  Pair p(Pair::Options{});
  const ObjectId id = p.outer.source.add(make_id(1, 0xA8), "docs-in", "big.bin", pattern(12, 6 << 20));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.partial[id].size() >= (2u << 20); }, 20s));
  p.link.set_down(true);
  p.inner.engine->disconnected();
  p.make_outer();
  p.outer.source.requeue(id);
  const std::uint64_t held = p.inner.sink.partial[id].size();
  const std::size_t reads_before = p.outer.source.reads.size();
  p.link.set_down(false);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 30s)) << counters_text(p);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_EQ(p.outer.source.reads[reads_before].second, held);
}

TEST(Transfer, AnObjectOfferedAgainAfterDeliveryIsNeverDeliveredTwice) {
  Pair p(Pair::Options{});
  const ObjectId id = p.outer.source.add(make_id(1, 0xA9), "docs-in", "once.txt", pattern(13, 70000));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 10s));
  // The same engine answers from its recent-done memory...
  p.outer.source.requeue(id);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.at(id) == 2; }, 5s));
  // ...and after both daemons restart, the sink's exactly-once store answers.
  p.link.set_down(true);
  p.make_outer();
  p.make_inner();
  p.link.set_down(false);
  p.outer.source.requeue(id);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.at(id) == 3; }, 5s));
  EXPECT_EQ(p.inner.sink.delivered.size(), 1u);
  EXPECT_EQ(p.inner.sink.completes, 1);
  EXPECT_EQ(p.inner.sink.commits_twice, 0);
}

TEST(Transfer, ShutdownTellsThePeer) {
  Pair p(Pair::Options{});
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.both_up(); }, 5s));
  p.outer.engine->shutdown("ferryd stopping (SIGTERM)", p.now);
  p.run_for(10ms);
  EXPECT_EQ(p.outer.status().state, LinkState::down);
  const auto closed = p.inner.texts(LinkEventKind::link_closed);
  ASSERT_FALSE(closed.empty());
  EXPECT_EQ(closed[0], "peer closed the link: ferryd stopping (SIGTERM)");
  EXPECT_EQ(p.inner.status().state, LinkState::handshaking);
}

TEST(Transfer, ObjectsThatCannotBeOfferedAreRefusedLocally) {
  Pair::Options o;
  o.outer.max_frame = 1500;
  o.outer.chunk_size = 1000;
  o.inner.max_frame = 1500;
  o.inner.chunk_size = 1000;
  Pair p(o);
  const ObjectId long_path = p.outer.source.add(make_id(1, 0xAA), "docs-in", std::string(2000, 'p'), pattern(1, 10));
  const ObjectId bad_utf8 = p.outer.source.add(make_id(2, 0xAA), "docs-in", "\xC0\xAF", pattern(1, 10));
  const ObjectId fine = p.outer.source.add(make_id(3, 0xAA), "docs-in", "ok", pattern(1, 10));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(fine); }, 5s));
  EXPECT_EQ(p.outer.source.rejected.at(long_path).first, reject_code::too_large_for_frame);
  EXPECT_TRUE(p.outer.source.rejected.contains(bad_utf8));
}

// Everything at once, seeded: faults, silent cuts long enough to be declared
// dead, and restarts of either daemon or both (new engines, the spools
// kept, in-flight objects queued again), in random order mid-transfer.
class Chaos : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(Chaos, EveryObjectArrivesOnceThroughCutsAndRestarts) {
  std::mt19937_64 rng(GetParam());
  Pair::Options o;
  o.faults = make(0.01, 0.02, 0.1, 0.01);
  o.seed = GetParam();
  Pair p(o);
  const Workload w = add_workload(p, GetParam(), 12, 3 << 20);
  p.connect();
  const auto finished = [&] {
    return p.outer.source.done.size() == w.outbound.size() && p.inner.source.done.size() == w.inbound.size();
  };
  const auto restart = [&](bool outer, bool inner) {
    p.link.set_down(true);
    if (!outer) p.outer.engine->disconnected();
    if (!inner) p.inner.engine->disconnected();
    if (outer) p.make_outer();
    if (inner) p.make_inner();
    if (outer) p.outer.source.requeue_in_flight();
    if (inner) p.inner.source.requeue_in_flight();
    p.link.set_down(false);
    p.connect();
  };
  int events = 0;
  for (; events < 5 && !finished(); ++events) {
    p.run_until(finished, std::chrono::milliseconds(2 + rng() % 20));
    switch (rng() % 4) {
      case 0:
        p.link.set_silent(true);
        p.run_for(std::chrono::milliseconds(600 + rng() % 400));
        p.link.set_silent(false);
        break;
      case 1: restart(false, true); break;
      case 2: restart(true, false); break;
      case 3: restart(true, true); break;
    }
  }
  ASSERT_TRUE(p.run_until(finished, 600s)) << counters_text(p);
  EXPECT_EQ(events, 5) << "the transfer ended before the chaos did";
  for (int dir = 0; dir < 2; ++dir) {
    const Endpoint& from = dir == 0 ? p.outer : p.inner;
    const Endpoint& to = dir == 0 ? p.inner : p.outer;
    const auto& ids = dir == 0 ? w.outbound : w.inbound;
    EXPECT_EQ(to.sink.delivered.size(), ids.size());
    for (const ObjectId& id : ids) EXPECT_EQ(to.sink.delivered.at(id), from.source.content(id)) << id.hex();
    EXPECT_TRUE(from.source.rejected.empty());
    EXPECT_EQ(to.sink.commits_twice, 0);
    EXPECT_EQ(to.sink.contract_violations, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, Chaos, ::testing::Values(1, 2, 3, 4));

}  // namespace
}  // namespace ferry::link::test

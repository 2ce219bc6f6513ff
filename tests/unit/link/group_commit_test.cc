// A receiving sink that commits later (docs/link-protocol.md §6.2, END):
// ObjectSink::complete answers pending, the sink commits a batch under one
// fsync, and LinkEngine::completed reports each outcome. The sender hears
// DONE only after the commit; retransmissions, cuts and rekeys in between
// never make the sink complete an object twice.
#include <gtest/gtest.h>

#include "ferry/link/src/receiver.h"
#include "ferry/link/src/sender.h"
#include "tests/unit/link/link_harness.h"

namespace ferry::link::test {
namespace {

FrameType type_of(ByteView f) { return f.size() > 5 ? static_cast<FrameType>(f[5]) : FrameType::hello; }

// Counts the frames of each type one side sends (the sealed header is in clear).
struct FrameCount {
  explicit FrameCount(SimLink& link, int side) {
    link.tap = [this, side](int from, ByteView f) {
      if (from == side) counts[type_of(f)]++;
    };
  }
  int operator[](FrameType t) const {
    auto it = counts.find(t);
    return it == counts.end() ? 0 : it->second;
  }
  std::map<FrameType, int> counts;
};

// docs/link-protocol.md §7: complete() failures per id before REJECT, and
// the transfers the receiver keeps state for.
constexpr int kAttempts = 3;
constexpr std::size_t kReceiverTable = ferry::link::Receiver::kMaxIncoming;

void cut(Pair& p) {
  p.link.set_down(true);
  p.outer.engine->disconnected();
  p.inner.engine->disconnected();
}

void reconnect(Pair& p) {
  p.link.set_down(false);
  p.connect();
}

TEST(LinkGroupCommit, DoneGoesOutOnlyAfterTheSinkCommits) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const FrameCount inner_sent(p.link, 1);
  const ObjectId id = p.outer.source.add(make_id(1, 0xC1), "docs-in", "a.bin", pattern(1, 300000));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s));
  // Far beyond the sender's retransmission timers: nothing is acknowledged yet.
  p.run_for(2s);
  EXPECT_TRUE(p.outer.source.done.empty());
  EXPECT_TRUE(p.outer.source.rejected.empty());
  EXPECT_TRUE(p.inner.sink.delivered.empty());
  EXPECT_EQ(inner_sent[FrameType::done], 0);
  EXPECT_EQ(p.outer.status().objects_sending, 1u);
  EXPECT_EQ(p.inner.status().objects_receiving, 1u) << "a pending object is still being received";
  EXPECT_EQ(p.inner.status().counters.objects_received, 0u);
  EXPECT_FALSE(p.inner.has_event(LinkEventKind::object_received));

  p.inner.commit_deferred(id, p.now);
  EXPECT_EQ(inner_sent[FrameType::done], 1) << "DONE goes out as soon as the sink reports";
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 50ms));
  EXPECT_EQ(p.outer.source.done.at(id), 1);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_EQ(p.inner.sink.completes, 1);
  EXPECT_EQ(p.inner.status().counters.objects_received, 1u);
  EXPECT_TRUE(p.inner.has_event(LinkEventKind::object_received));
  EXPECT_EQ(p.inner.status().objects_receiving, 0u);
  EXPECT_EQ(p.outer.status().objects_sending, 0u);
}

TEST(LinkGroupCommit, AFailedCommitRestartsTheTransferFromZero) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const ObjectId id = p.outer.source.add(make_id(1, 0xC2), "docs-in", "b.bin", pattern(2, 200000));
  p.inner.sink.fail_complete_times[id] = 1;
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s));
  p.inner.commit_deferred(id, p.now);
  EXPECT_TRUE(p.inner.has_event(LinkEventKind::object_restarted));
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s)) << "sent again";
  p.inner.commit_deferred(id, p.now);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 1s));
  EXPECT_EQ(p.outer.source.done.at(id), 1);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_EQ(p.inner.sink.completes, 2);
  int at_zero = 0;
  for (const auto& [wid, off] : p.inner.sink.writes) at_zero += (wid == id && off == 0);
  EXPECT_EQ(at_zero, 2) << "the second attempt starts from offset 0";
}

TEST(LinkGroupCommit, CommitsFailingEveryTimeAreRejectedAfterThreeAttempts) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const ObjectId id = p.outer.source.add(make_id(1, 0xC3), "docs-in", "c.bin", pattern(3, 100000));
  p.inner.sink.fail_complete_times[id] = 1000;
  p.connect();
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s)) << "attempt " << attempt;
    EXPECT_FALSE(p.outer.source.rejected.contains(id));
    p.inner.commit_deferred(id, p.now);
  }
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.rejected.contains(id); }, 1s));
  EXPECT_EQ(p.outer.source.rejected.at(id).first, reject_code::complete_failed);
  EXPECT_NE(p.outer.source.rejected.at(id).second.find("after 3 attempts"), std::string::npos);
  EXPECT_NE(p.outer.source.rejected.at(id).second.find("SM3 mismatch (injected)"), std::string::npos);
  p.run_for(1s);
  EXPECT_EQ(p.inner.sink.completes, 3);
  EXPECT_TRUE(p.inner.sink.delivered.empty());
  EXPECT_FALSE(p.outer.source.done.contains(id));
  EXPECT_EQ(p.outer.status().objects_sending, 0u);
  EXPECT_EQ(p.inner.status().objects_receiving, 0u);
}

// The third failure is reported while the link is down: the REJECT cannot
// go out then, and the sender hears it when it offers the object again.
TEST(LinkGroupCommit, AThirdFailureWithTheLinkDownIsRejectedOnTheNextOffer) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const ObjectId id = p.outer.source.add(make_id(1, 0xC4), "docs-in", "d.bin", pattern(4, 100000));
  p.inner.sink.fail_complete_times[id] = 1000;
  p.connect();
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s)) << "attempt " << attempt;
    if (attempt == kAttempts) cut(p);
    p.inner.commit_deferred(id, p.now);
  }
  p.run_for(100ms);
  reconnect(p);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.rejected.contains(id); }, 5s));
  EXPECT_EQ(p.outer.source.rejected.at(id).first, reject_code::complete_failed);
  EXPECT_NE(p.outer.source.rejected.at(id).second.find("after 3 attempts"), std::string::npos);
  EXPECT_EQ(p.inner.sink.completes, 3) << "no fourth attempt";
  EXPECT_TRUE(p.inner.sink.delivered.empty());
}

// With every ACK lost, the sender keeps going back to offset 0 and sending
// DATA and END again while the sink commits: none of it reaches the sink.
TEST(LinkGroupCommit, RetransmissionsWhileCommittingDoNotCompleteAgain) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const std::size_t chunk = p.options_.outer.chunk_size;
  const ObjectId id = p.outer.source.add(make_id(1, 0xC5), "docs-in", "e.bin", pattern(5, 5 * chunk + 7));
  bool drop_acks = true;
  bool pending = false;
  int data_while_pending = 0;
  int end_while_pending = 0;
  p.link.mutate = [&](int from, Bytes& f) {
    if (from == 1 && drop_acks && type_of(f) == FrameType::ack) f.clear();
    if (from == 0 && pending) {
      data_while_pending += type_of(f) == FrameType::data;
      end_while_pending += type_of(f) == FrameType::end;
    }
  };
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s));
  pending = true;
  p.run_for(2s);
  EXPECT_GT(data_while_pending, 0);
  EXPECT_GT(end_while_pending, 0);
  EXPECT_EQ(p.inner.sink.completes, 1);
  EXPECT_EQ(p.inner.sink.completed_while_pending, 0);
  EXPECT_TRUE(p.outer.source.done.empty());

  drop_acks = false;
  p.inner.commit_deferred(id, p.now);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 1s));
  p.run_for(1s);
  EXPECT_EQ(p.outer.source.done.at(id), 1);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_EQ(p.inner.sink.completes, 1);
  EXPECT_EQ(p.inner.sink.commits_twice, 0);
  EXPECT_EQ(p.inner.sink.contract_violations, 0);
}

// When the sink answers pending the receiver acknowledges every byte, so that
// a sender waiting for DONE repeats only END, not a window of DATA. (Every
// earlier ACK is lost here: only that one can stop the DATA.)
TEST(LinkGroupCommit, WhileCommittingTheSenderRepeatsOnlyEnd) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const ObjectId id = p.outer.source.add(make_id(1, 0xC6), "docs-in", "f.bin", pattern(6, 400000));
  const FrameCount outer_sent(p.link, 0);
  p.link.mutate = [&](int from, Bytes& f) {
    if (from == 1 && type_of(f) == FrameType::ack && !p.inner.sink.deferred.contains(id)) f.clear();
  };
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s));
  p.run_for(10ms);
  const int data_before = outer_sent[FrameType::data];
  const int end_before = outer_sent[FrameType::end];
  p.run_for(2s);
  EXPECT_EQ(outer_sent[FrameType::data], data_before);
  EXPECT_GT(outer_sent[FrameType::end], end_before);
  EXPECT_EQ(p.inner.sink.completes, 1);
}

// The transport goes away while the sink commits. When it returns, the
// sender offers the object again and waits (BUSY) instead of sending it again;
// DONE follows the commit.
TEST(LinkGroupCommit, AReconnectWhileCommittingEndsInDoneOnce) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const FrameCount inner_sent(p.link, 1);
  const ObjectId id = p.outer.source.add(make_id(1, 0xC7), "docs-in", "g.bin", pattern(7, 500000));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s));
  const std::size_t writes = p.inner.sink.writes.size();
  cut(p);
  p.run_for(200ms);
  reconnect(p);
  ASSERT_TRUE(p.run_until([&] { return p.both_up(); }, 5s));
  p.run_for(1s);
  EXPECT_GT(inner_sent[FrameType::busy], 0) << "the re-offer is answered BUSY";
  EXPECT_EQ(inner_sent[FrameType::accept], 1) << "only the first OFFER was accepted";
  EXPECT_TRUE(p.outer.source.done.empty());
  EXPECT_EQ(p.inner.sink.offers, 1) << "the engine answered the re-offer, not the sink";
  EXPECT_EQ(p.inner.sink.writes.size(), writes) << "no byte sent again";
  EXPECT_EQ(p.inner.status().objects_receiving, 1u);

  p.inner.commit_deferred(id, p.now);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 5s));
  p.run_for(1s);
  EXPECT_EQ(p.outer.source.done.at(id), 1);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_EQ(p.inner.sink.completes, 1);
  EXPECT_EQ(p.inner.sink.commits_twice, 0);
  EXPECT_EQ(p.inner.status().counters.objects_received, 1u);
}

// The commit finishes while the link is down: no DONE can go out, so the
// engine remembers the object, and the sender's next OFFER hears DUPLICATE.
TEST(LinkGroupCommit, ACommitWhileTheLinkIsDownEndsInDuplicate) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const FrameCount inner_sent(p.link, 1);
  const ObjectId id = p.outer.source.add(make_id(1, 0xC8), "docs-in", "h.bin", pattern(8, 500000));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s));
  cut(p);
  p.inner.commit_deferred(id, p.now);
  EXPECT_EQ(p.inner.status().counters.objects_received, 1u);
  EXPECT_EQ(p.inner.status().objects_receiving, 0u);
  p.run_for(200ms);
  reconnect(p);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 5s));
  p.run_for(1s);
  EXPECT_EQ(p.outer.source.done.at(id), 1);
  EXPECT_GE(inner_sent[FrameType::duplicate], 1);
  EXPECT_EQ(inner_sent[FrameType::done], 0);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_EQ(p.inner.sink.completes, 1);
  EXPECT_EQ(p.inner.sink.offers, 1) << "answered from the engine's memory";
}

TEST(LinkGroupCommit, RekeysWhileCommittingKeepThePendingObject) {
  Pair::Options o;
  o.outer.rekey_interval = 15ms;
  Pair p(o);
  p.inner.sink.defer_completes = true;
  const ObjectId id = p.outer.source.add(make_id(1, 0xC9), "docs-in", "i.bin", pattern(9, 300000));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s));
  const std::uint64_t handshakes = p.outer.status().counters.handshakes;
  p.run_for(500ms);
  EXPECT_GE(p.outer.status().counters.handshakes, handshakes + 5);
  EXPECT_EQ(p.inner.status().objects_receiving, 1u);
  p.inner.commit_deferred(id, p.now);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 1s));
  EXPECT_EQ(p.outer.source.done.at(id), 1);
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
  EXPECT_EQ(p.inner.sink.completes, 1);
}

// A group commit: many objects wait at once and are committed in one batch,
// in another order than they arrived in.
TEST(LinkGroupCommit, ManyObjectsCommittedInOneBatchOutOfOrder) {
  Pair::Options o;
  o.outer.max_objects_in_flight = 40;
  Pair p(o);
  p.inner.sink.defer_completes = true;
  std::mt19937_64 rng(7);
  std::vector<ObjectId> ids;
  for (int i = 0; i < 40; ++i) {
    const std::size_t size = i < 2 ? static_cast<std::size_t>(i) : rng() % 200000;
    ids.push_back(p.outer.source.add(make_id(static_cast<std::uint64_t>(i), 0xCA), "docs-in",
                                     "batch/" + std::to_string(i), pattern(rng(), size)));
  }
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.size() == ids.size(); }, 10s));
  p.run_for(500ms);
  EXPECT_TRUE(p.outer.source.done.empty());
  EXPECT_EQ(p.inner.status().objects_receiving, ids.size());

  const std::vector<ObjectId> arrived = p.inner.sink.deferred_in_order();
  std::vector<ObjectId> batch = arrived;
  std::reverse(batch.begin(), batch.end());
  std::shuffle(batch.begin() + 10, batch.end() - 10, rng);
  ASSERT_NE(batch, arrived);
  for (const ObjectId& id : batch) p.inner.commit_deferred(id, p.now);

  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.size() == ids.size(); }, 5s));
  p.run_for(1s);
  EXPECT_EQ(p.inner.sink.delivered.size(), ids.size());
  for (const ObjectId& id : ids) {
    EXPECT_EQ(p.outer.source.done.at(id), 1) << id.hex();
    EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id)) << id.hex();
  }
  EXPECT_EQ(p.inner.sink.completes, static_cast<int>(ids.size()));
  EXPECT_EQ(p.inner.sink.completed_while_pending, 0);
  EXPECT_EQ(p.inner.sink.commits_twice, 0);
  EXPECT_TRUE(p.outer.source.rejected.empty());
  EXPECT_EQ(p.inner.status().counters.objects_received, ids.size());
  EXPECT_EQ(p.inner.status().objects_receiving, 0u);
}

// Objects waiting for the sink fill the receiver's table; they are never
// forgotten to make room, however long the commit takes: a new object waits
// (BUSY) until one of them is committed.
TEST(LinkGroupCommit, ObjectsWaitingForTheSinkAreNeverEvicted) {
  Pair::Options o;
  o.outer.max_objects_in_flight = kReceiverTable + 1;
  Pair p(o);
  p.inner.sink.defer_completes = true;
  std::vector<ObjectId> ids;
  for (std::size_t i = 0; i <= kReceiverTable; ++i) {
    ids.push_back(p.outer.source.add(make_id(i, 0xCB), "docs-in", "tiny/" + std::to_string(i), pattern(i, i % 3)));
  }
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.size() == kReceiverTable; }, 10s));
  // Longer than the idle time after which the receiver forgets a transfer.
  p.run_for(5s);
  EXPECT_EQ(p.inner.sink.deferred.size(), kReceiverTable);
  EXPECT_EQ(p.inner.sink.completes, static_cast<int>(kReceiverTable));
  EXPECT_EQ(p.inner.status().objects_receiving, kReceiverTable);
  EXPECT_TRUE(p.outer.source.done.empty());

  for (const ObjectId& id : p.inner.sink.deferred_in_order()) p.inner.commit_deferred(id, p.now);
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.size() == 1; }, 10s)) << "the last one got its turn";
  for (const ObjectId& id : p.inner.sink.deferred_in_order()) p.inner.commit_deferred(id, p.now);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.size() == ids.size(); }, 10s));
  for (const ObjectId& id : ids) EXPECT_EQ(p.outer.source.done.at(id), 1) << id.hex();
  EXPECT_EQ(p.inner.sink.delivered.size(), ids.size());
  EXPECT_EQ(p.inner.sink.completes, static_cast<int>(ids.size()));
  EXPECT_EQ(p.inner.sink.completed_while_pending, 0);
  EXPECT_EQ(p.inner.sink.commits_twice, 0);
}

// The owner may report after the engine forgot the transfer (it was
// replaced, or the report comes twice): nothing breaks, a durable object
// is remembered, and nothing is delivered twice.
TEST(LinkGroupCommit, AReportTheEngineDidNotAskForChangesNothingButIsRemembered) {
  Pair p(Pair::Options{});
  p.inner.sink.defer_completes = true;
  const FrameCount inner_sent(p.link, 1);
  const ObjectId id = p.outer.source.add(make_id(1, 0xCC), "docs-in", "j.bin", pattern(10, 1000));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.inner.sink.deferred.contains(id); }, 5s));
  p.inner.commit_deferred(id, p.now);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 1s));
  p.inner.engine->completed(id, {}, p.now);
  p.inner.engine->completed(id, crypto::make_error(crypto::Errc::io, "late"), p.now);
  p.inner.engine->completed(make_id(99, 0xCC), crypto::make_error(crypto::Errc::io, "never asked"), p.now);
  EXPECT_EQ(p.inner.status().counters.objects_received, 1u);
  EXPECT_FALSE(p.inner.has_event(LinkEventKind::object_restarted));
  EXPECT_EQ(inner_sent[FrameType::done], 1);

  // An id committed by a replaced engine: the new one answers DUPLICATE
  // from memory instead of asking the sink.
  const ObjectId other = make_id(2, 0xCC);
  p.inner.engine->completed(other, {}, p.now);
  p.inner.sink.delivered[other] = pattern(11, 10);
  p.outer.source.add(other, "docs-in", "k.bin", pattern(11, 10));
  const int offers = p.inner.sink.offers;
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(other); }, 1s));
  EXPECT_EQ(p.inner.sink.offers, offers);
  EXPECT_GE(inner_sent[FrameType::duplicate], 1);
}

// A call seals a bounded amount (so a daemon's loop gets back to its I/O and
// the peer works while more is sealed) and says when there is more to send.
TEST(LinkPacing, EachCallSealsABoundedAmountAndAsksForAnother) {
  Pair p(Pair::Options{});
  std::size_t data_frames = 0;
  p.link.tap = [&](int from, ByteView f) {
    if (from == 0 && f[5] == static_cast<std::uint8_t>(FrameType::data)) ++data_frames;
  };
  const LinkParams& params = p.outer.engine->params();
  const ObjectId id = p.outer.source.add(make_id(7, 0xD0), "docs-in", "big.bin",
                                         pattern(7, 4 * params.window * params.chunk_size));
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return data_frames > 0; }, 10s));
  // No time passes and nothing arrives: each call adds at most the budget,
  // until the window is full.
  std::size_t calls = 0;
  while (p.outer.engine->has_more_to_send()) {
    const std::size_t before = data_frames;
    p.outer.engine->tick(p.now);
    EXPECT_LE(data_frames - before, Sender::kChunksPerPump);
    ASSERT_LT(++calls, 1000u);
  }
  EXPECT_GT(calls, 0u) << "the first call sealed the whole window at once";
  EXPECT_GE(data_frames, params.window);
  EXPECT_LE(data_frames, params.window + Sender::kChunksPerPump);
  ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(id); }, 20s));
  EXPECT_EQ(p.inner.sink.delivered.at(id), p.outer.source.content(id));
}

}  // namespace
}  // namespace ferry::link::test

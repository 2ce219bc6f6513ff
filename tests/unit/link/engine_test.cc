// Hostile and stale input to a running engine: garbage, truncated frames,
// oversized length fields, replays, corrupted seals and frames of an old
// session are counted by reason and never acted on; the link keeps working.
#include <gtest/gtest.h>

#include "ferry/link/messages.h"
#include "tests/support/test_bytes.h"
#include "tests/unit/link/link_harness.h"

namespace ferry::link::test {
namespace {

std::uint64_t malformed(const LinkStatus& s, DecodeError e) {
  return s.counters.dropped.malformed_by_reason[static_cast<std::size_t>(e)];
}

struct Running {
  Running() : p(Pair::Options{}) {
    p.link.tap = [this](int from, ByteView f) {
      if (from == 0) outer_frames.emplace_back(f.begin(), f.end());
    };
    first = p.outer.source.add(make_id(1, 0xC0), "docs-in", "first.bin", pattern(1, 400000));
    p.connect();
    if (!p.run_until([&] { return p.outer.source.done.contains(first); }, 10s)) throw std::runtime_error("no transfer");
  }
  // A second object after the abuse: the link still works.
  void expect_still_works() {
    const std::size_t delivered = p.inner.sink.delivered.size();
    const ObjectId second = p.outer.source.add(make_id(2, 0xC0), "docs-in", "second.bin", pattern(2, 300000));
    ASSERT_TRUE(p.run_until([&] { return p.outer.source.done.contains(second); }, 10s));
    EXPECT_EQ(p.inner.sink.delivered.at(second), p.outer.source.content(second));
    EXPECT_EQ(p.inner.sink.delivered.size(), delivered + 1);
    EXPECT_EQ(p.inner.sink.commits_twice, 0);
    EXPECT_EQ(p.inner.status().state, LinkState::up);
  }
  const Bytes& sealed_data_frame() const {
    for (const Bytes& f : outer_frames) {
      if (f[5] == static_cast<std::uint8_t>(FrameType::data)) return f;
    }
    throw std::runtime_error("no DATA frame seen");
  }
  Pair p;
  ObjectId first;
  std::vector<Bytes> outer_frames;
};

TEST(EngineInput, GarbageTruncatedAndOversizedFramesAreCountedByReason) {
  Running r;
  LinkEngine& inner = *r.p.inner.engine;
  const LinkStatus before = inner.status();
  std::mt19937_64 rng(5);
  const Bytes good = r.sealed_data_frame();

  for (int i = 0; i < 100; ++i) inner.receive(ferry::test::random_bytes(rng, kHeaderSize + rng() % 2000), r.p.now);  // garbage
  inner.receive(ByteView(good).first(30), r.p.now);                      // truncated header
  inner.receive(ByteView(good).first(good.size() - 1), r.p.now);         // truncated frame
  Bytes oversized = good;
  oversized[48] = oversized[49] = oversized[50] = oversized[51] = 0xFF;  // 4 GiB length field
  inner.receive(oversized, r.p.now);
  Bytes trailing = good;
  trailing.push_back(0);
  inner.receive(trailing, r.p.now);
  Bytes flags = good;
  flags[6] = 0x80;
  inner.receive(flags, r.p.now);
  Bytes type = good;
  type[5] = 0x7F;
  inner.receive(type, r.p.now);
  inner.receive({}, r.p.now);

  const LinkStatus after = inner.status();
  EXPECT_EQ(malformed(after, DecodeError::bad_magic) - malformed(before, DecodeError::bad_magic), 100u);
  EXPECT_EQ(malformed(after, DecodeError::truncated_header) - malformed(before, DecodeError::truncated_header), 2u);
  EXPECT_EQ(malformed(after, DecodeError::length_exceeds_datagram) - malformed(before, DecodeError::length_exceeds_datagram), 1u);
  EXPECT_EQ(malformed(after, DecodeError::length_exceeds_max_frame) - malformed(before, DecodeError::length_exceeds_max_frame), 1u);
  EXPECT_EQ(malformed(after, DecodeError::trailing_bytes) - malformed(before, DecodeError::trailing_bytes), 1u);
  EXPECT_EQ(malformed(after, DecodeError::bad_flags) - malformed(before, DecodeError::bad_flags), 1u);
  EXPECT_EQ(malformed(after, DecodeError::bad_type) - malformed(before, DecodeError::bad_type), 1u);
  EXPECT_EQ(after.counters.dropped.malformed - before.counters.dropped.malformed, 107u);
  r.expect_still_works();
}

TEST(EngineInput, ReplayedFramesAreCountedAndNeverActedOn) {
  Running r;
  LinkEngine& inner = *r.p.inner.engine;
  const std::uint64_t writes = r.p.inner.sink.writes.size();
  const LinkStatus before = inner.status();
  // Every sealed frame the outer sent during the first transfer, again.
  std::uint64_t sealed = 0;
  for (const Bytes& f : r.outer_frames) {
    if (f[5] < 0x10) continue;
    ++sealed;
    inner.receive(f, r.p.now);
  }
  const LinkStatus after = inner.status();
  const std::uint64_t refused = (after.counters.dropped.replay - before.counters.dropped.replay) +
                                (after.counters.dropped.out_of_window - before.counters.dropped.out_of_window);
  EXPECT_EQ(refused, sealed);
  EXPECT_GT(after.counters.dropped.replay, before.counters.dropped.replay);
  EXPECT_EQ(r.p.inner.sink.writes.size(), writes) << "a replayed DATA frame reached the sink";
  r.expect_still_works();
}

TEST(EngineInput, CorruptSealsAreCountedAsCorrupt) {
  Running r;
  LinkEngine& inner = *r.p.inner.engine;
  // A fresh DATA frame of the live session, altered in the payload, the tag, or the
  // header (which is the seal's associated data).
  const ObjectId id = r.p.outer.source.add(make_id(3, 0xC0), "docs-in", "third.bin", pattern(3, 200000));
  std::vector<Bytes> captured;
  r.p.link.mutate = [&](int from, Bytes& f) {
    if (from == 0 && f[5] == static_cast<std::uint8_t>(FrameType::data) && captured.size() < 3) {
      captured.push_back(f);
      f.clear();
    }
  };
  ASSERT_TRUE(r.p.run_until([&] { return r.p.outer.source.done.contains(id); }, 10s));
  ASSERT_EQ(captured.size(), 3u);
  const std::uint64_t before = inner.status().counters.dropped.corrupt;
  captured[0][kHeaderSize + 20] ^= 1;  // ciphertext
  captured[1].back() ^= 0x80;          // tag
  captured[2][40] ^= 1;                // header: offset
  for (const Bytes& f : captured) inner.receive(f, r.p.now);
  EXPECT_EQ(inner.status().counters.dropped.corrupt - before, 3u);
  EXPECT_EQ(r.p.inner.sink.delivered.at(id), r.p.outer.source.content(id));
  r.expect_still_works();
}

TEST(EngineInput, FramesOfAnOldSessionAreWrongSession) {
  Running r;
  const Bytes old = r.sealed_data_frame();
  r.p.link.set_down(true);
  r.p.outer.engine->disconnected();
  r.p.inner.engine->disconnected();
  r.p.link.set_down(false);
  r.p.connect();
  ASSERT_TRUE(r.p.run_until([&] { return r.p.both_up(); }, 5s));
  const std::uint64_t before = r.p.inner.status().counters.dropped.wrong_session;
  r.p.inner.engine->receive(old, r.p.now);
  EXPECT_EQ(r.p.inner.status().counters.dropped.wrong_session - before, 1u);
  r.expect_still_works();
}

TEST(EngineInput, UnsolicitedHandshakeFramesChangeNothing) {
  Running r;
  const std::uint64_t session = r.p.inner.status().session_id;
  // A stale REFUSE and HELLO_REPLY while up; a CONFIRM for an unknown session.
  FrameHeader h;
  h.type = FrameType::refuse;
  r.p.outer.engine->receive(encode_frame(h, encode(ReasonBody{1, "go away"})), r.p.now);
  h.type = FrameType::hello_reply;
  r.p.outer.engine->receive(encode_frame(h, Bytes(kHelloReplyBodySize)), r.p.now);
  h.type = FrameType::confirm;
  h.session_id = 12345;
  r.p.inner.engine->receive(encode_frame(h, Bytes(kConfirmBodySize)), r.p.now);
  EXPECT_EQ(r.p.outer.status().state, LinkState::up);
  EXPECT_EQ(r.p.inner.status().session_id, session);
  EXPECT_GE(r.p.outer.status().counters.dropped.unexpected, 2u);
  r.expect_still_works();
}

TEST(EngineInput, NothingIsAcceptedWhileDown) {
  Pair p(Pair::Options{});
  FrameHeader h;
  h.type = FrameType::hello;
  p.inner.engine->receive(encode_frame(h, Bytes(kHelloBodySize)), p.now);
  EXPECT_EQ(p.inner.status().counters.dropped.unexpected, 1u);
  EXPECT_EQ(p.link.stats.sent, 0u);
  EXPECT_FALSE(p.inner.engine->next_deadline());
}

}  // namespace
}  // namespace ferry::link::test

// The handshake (docs/link-protocol.md §4): SM2 key exchange with pinned
// keys, refusals that name both values, key confirmation against an
// impostor, the transcript binding, and no object moving without a session.
#include <gtest/gtest.h>

#include "ferry/link/messages.h"
#include "ferry/link/src/handshake.h"
#include "tests/unit/link/link_harness.h"

namespace ferry::link::test {
namespace {

std::string fp_hex(const crypto::Sm2PrivateKey& k) { return crypto::to_hex(crypto::Sm3::digest(k.public_point())); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

bool any_contains(const std::vector<std::string>& texts, const std::string& part) {
  for (const auto& t : texts) {
    if (contains(t, part)) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& texts) {
  std::string out;
  for (const auto& t : texts) out += t + "\n";
  return out;
}

void add_objects(Pair& p) {
  p.outer.source.add(make_id(1, 0xA0), "docs-in", "a.txt", pattern(1, 5000));
  p.inner.source.add(make_id(2, 0xB0), "release-out", "b.txt", pattern(2, 5000));
}

// Nothing moved: no object was offered, read, written or delivered.
void expect_nothing_moved(const Pair& p) {
  EXPECT_EQ(p.outer.status().state, LinkState::handshaking);
  EXPECT_EQ(p.inner.status().state, LinkState::handshaking);
  EXPECT_EQ(p.outer.sink.offers + p.inner.sink.offers, 0);
  EXPECT_TRUE(p.outer.source.reads.empty());
  EXPECT_TRUE(p.inner.source.reads.empty());
  EXPECT_TRUE(p.outer.sink.delivered.empty());
  EXPECT_TRUE(p.inner.sink.delivered.empty());
}

TEST(Handshake, LinkComesUpAndEachSideLearnsThePeer) {
  Pair::Options o;
  o.outer.policy_serial = 7;
  o.inner.policy_serial = 8;
  Pair p(o);
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.both_up(); }, 5s));
  const LinkStatus a = p.outer.status();
  const LinkStatus b = p.inner.status();
  EXPECT_NE(a.session_id, 0u);
  EXPECT_EQ(a.session_id, b.session_id);
  EXPECT_EQ(crypto::to_hex(a.peer_fingerprint), fp_hex(TestKeys::get().inner));
  EXPECT_EQ(crypto::to_hex(b.peer_fingerprint), fp_hex(TestKeys::get().outer));
  EXPECT_EQ(a.own_fingerprint, b.peer_fingerprint);
  ASSERT_TRUE(a.peer_policy_serial);
  EXPECT_EQ(*a.peer_policy_serial, 8u);
  ASSERT_TRUE(b.peer_policy_serial);
  EXPECT_EQ(*b.peer_policy_serial, 7u);
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::policy_serial_differs), "peer policy serial 8, ours 7"));
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::policy_serial_differs), "peer policy serial 7, ours 8"));
  EXPECT_TRUE(p.outer.has_event(LinkEventKind::link_up));
  EXPECT_TRUE(p.inner.has_event(LinkEventKind::link_up));
  // The serial follows a policy reload without a new handshake.
  p.outer.engine->set_policy_serial(9, p.now);
  p.run_for(50ms);
  EXPECT_EQ(*p.inner.status().peer_policy_serial, 9u);
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::policy_serial_differs), "peer policy serial 9, ours 8"));
}

TEST(Handshake, EqualPolicySerialsRaiseNoEvent) {
  Pair p(Pair::Options{});
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.both_up(); }, 5s));
  EXPECT_FALSE(p.outer.has_event(LinkEventKind::policy_serial_differs));
  EXPECT_FALSE(p.inner.has_event(LinkEventKind::policy_serial_differs));
}

TEST(Handshake, OuterPinsTheWrongKey) {
  Pair::Options o;
  o.outer_pins = &TestKeys::get().stranger;
  Pair p(o);
  add_objects(p);
  p.connect();
  p.run_for(2s);
  const std::string want = "peer pinned our key as " + fp_hex(TestKeys::get().stranger) +
                           ", but our key fingerprint is " + fp_hex(TestKeys::get().inner);
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::refused), want)) << joined(p.inner.texts(LinkEventKind::refused));
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::refused_by_peer), want))
      << joined(p.outer.texts(LinkEventKind::refused_by_peer));
  EXPECT_TRUE(contains(p.outer.status().last_error, want));
  expect_nothing_moved(p);
}

TEST(Handshake, InnerPinsTheWrongKey) {
  Pair::Options o;
  o.inner_pins = &TestKeys::get().stranger;
  Pair p(o);
  add_objects(p);
  p.connect();
  p.run_for(2s);
  const std::string want = "peer key fingerprint " + fp_hex(TestKeys::get().outer) + " is not the pinned " +
                           fp_hex(TestKeys::get().stranger);
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::refused), want)) << joined(p.inner.texts(LinkEventKind::refused));
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::refused_by_peer), want));
  EXPECT_GE(p.inner.status().counters.refusals, 2u) << "the initiator retries after handshake_retry";
  expect_nothing_moved(p);
}

TEST(Handshake, MaxFrameMismatchNamesBothValues) {
  Pair::Options o;
  o.inner.max_frame = 9000;
  o.inner.chunk_size = 9000 - kFrameOverhead;
  Pair p(o);
  add_objects(p);
  p.connect();
  p.run_for(1s);
  const std::string want = "max_frame: peer 65536, ours 9000";
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::refused), want)) << joined(p.inner.texts(LinkEventKind::refused));
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::refused_by_peer), want));
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::refused_by_peer), "chunk_size: peer 65440, ours 8904"));
  expect_nothing_moved(p);
}

TEST(Handshake, WindowAndKeepaliveMismatchAreRefusedToo) {
  Pair::Options o;
  o.inner.window = 8;
  o.inner.keepalive_interval = 250ms;
  Pair p(o);
  p.connect();
  p.run_for(1s);
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::refused), "window: peer 32, ours 8; keepalive_ms: peer 100, ours 250"))
      << joined(p.inner.texts(LinkEventKind::refused));
  EXPECT_FALSE(p.both_up());
}

TEST(Handshake, TwoOuterSidesRefuse) {
  Pair::Options o;
  o.inner.side = Side::outer;
  Pair p(o);
  p.connect();
  p.run_for(1s);
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::refused), "side: peer outer, ours outer"))
      << joined(p.inner.texts(LinkEventKind::refused));
  EXPECT_FALSE(p.both_up());
}

// A HELLO of protocol version 2 (the header layout is the same in every
// version): the responder refuses it naming both versions.
TEST(Handshake, ResponderRefusesAnotherProtocolVersion) {
  Pair p(Pair::Options{});
  add_objects(p);
  std::vector<Bytes> from_inner;
  p.link.tap = [&](int from, ByteView f) {
    if (from == 1) from_inner.emplace_back(f.begin(), f.end());
  };
  p.link.mutate = [](int from, Bytes& f) {
    if (from == 0 && f.size() > kHeaderSize && f[5] == static_cast<std::uint8_t>(FrameType::hello)) {
      f[4] = 2;            // header version
      f[kHeaderSize] = 2;  // protocol_version in the body
    }
  };
  p.connect();
  p.run_for(1s);
  const std::string want = "protocol version: peer 2, ours 1";
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::refused), want)) << joined(p.inner.texts(LinkEventKind::refused));
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::refused_by_peer), want));
  EXPECT_GT(p.inner.status().counters.dropped.malformed_by_reason[static_cast<int>(DecodeError::bad_version)], 0u);
  ASSERT_FALSE(from_inner.empty());
  Decoded<FrameView> refuse = decode_frame(from_inner.front(), 65536);
  ASSERT_TRUE(refuse.ok());
  EXPECT_EQ(refuse->header.type, FrameType::refuse);
  expect_nothing_moved(p);
}

// The reverse: a version-2 responder answers our HELLO with its REFUSE.
TEST(Handshake, InitiatorReadsARefusalOfAnotherProtocolVersion) {
  Pair p(Pair::Options{});
  p.outer.engine->connected(p.now);  // the inner engine stays down: we play the v2 peer
  FrameHeader h;
  h.type = FrameType::refuse;
  Bytes refuse = encode_frame(h, encode(ReasonBody{1, "protocol version: peer 1, ours 2"}));
  refuse[4] = 2;
  p.outer.engine->receive(refuse, p.now);
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::refused_by_peer),
                           "peer refused the handshake (protocol version: peer 2, ours 1): protocol version: peer 1, ours 2"))
      << joined(p.outer.texts(LinkEventKind::refused_by_peer));
}

// An impostor that claims the pinned responder's fingerprint but holds
// another key: it can answer the HELLO, but not with the right S_B.
TEST(Handshake, InitiatorDetectsAResponderWithoutThePinnedPrivateKey) {
  Pair p(Pair::Options{});
  const TestKeys& keys = TestKeys::get();
  Device impostor(keys.stranger);
  std::vector<Bytes> hellos;
  p.link.tap = [&](int from, ByteView f) {
    if (from == 0 && f[5] == static_cast<std::uint8_t>(FrameType::hello)) hellos.emplace_back(f.begin(), f.end());
  };
  p.outer.engine->connected(p.now);
  ASSERT_EQ(hellos.size(), 1u);
  Decoded<FrameView> hello_frame = decode_frame(hellos[0], 65536);
  ASSERT_TRUE(hello_frame.ok());
  Decoded<HelloBody> hello = decode_hello(hello_frame->payload);
  ASSERT_TRUE(hello.ok());

  // The impostor runs a genuine key exchange with its own key against the outer's.
  auto kx = impostor.session->begin_key_agreement(kIdentitySlot, crypto::Sm2KxRole::responder, crypto::kSm2DefaultId,
                                                  keys.outer.public_key(), crypto::kSm2DefaultId, 32);
  ASSERT_TRUE(kx.ok());
  auto result = (*kx)->finish(hello->ephemeral);
  ASSERT_TRUE(result.ok());
  HelloReplyBody reply;
  reply.hello = *hello;
  reply.hello.side = 2;
  reply.hello.own_key = crypto::Sm3::digest(keys.inner.public_point());  // the lie
  reply.hello.pinned_peer_key = crypto::Sm3::digest(keys.outer.public_point());
  std::copy_n((*kx)->ephemeral_point().begin(), crypto::kSm2PointSize, reply.hello.ephemeral.begin());
  reply.initiator_nonce = hello->nonce;
  reply.confirmation = result->responder_confirmation;
  FrameHeader h;
  h.type = FrameType::hello_reply;
  p.outer.engine->receive(encode_frame(h, encode(reply)), p.now);

  const std::string want =
      "key confirmation failed: peer does not hold the private key of pinned key " + fp_hex(keys.inner);
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::handshake_failed), want))
      << joined(p.outer.texts(LinkEventKind::handshake_failed));
  EXPECT_EQ(p.outer.status().state, LinkState::handshaking);
}

// An impostor initiator claims the pinned outer fingerprint; the responder
// answers, and the impostor's CONFIRM cannot carry the right S_A.
TEST(Handshake, ResponderDetectsAnInitiatorWithoutThePinnedPrivateKey) {
  Pair p(Pair::Options{});
  const TestKeys& keys = TestKeys::get();
  Device impostor(keys.stranger);
  std::vector<Bytes> replies;
  p.link.tap = [&](int from, ByteView f) {
    if (from == 1 && f[5] == static_cast<std::uint8_t>(FrameType::hello_reply)) replies.emplace_back(f.begin(), f.end());
  };
  p.inner.engine->connected(p.now);

  auto kx = impostor.session->begin_key_agreement(kIdentitySlot, crypto::Sm2KxRole::initiator, crypto::kSm2DefaultId,
                                                  keys.inner.public_key(), crypto::kSm2DefaultId, 32);
  ASSERT_TRUE(kx.ok());
  HelloBody hello;
  hello.side = 1;
  hello.params = announced(test_params(Side::outer));
  hello.own_key = crypto::Sm3::digest(keys.outer.public_point());  // the lie
  hello.pinned_peer_key = crypto::Sm3::digest(keys.inner.public_point());
  hello.nonce.fill(0x5A);
  std::copy_n((*kx)->ephemeral_point().begin(), crypto::kSm2PointSize, hello.ephemeral.begin());
  FrameHeader h;
  h.type = FrameType::hello;
  p.inner.engine->receive(encode_frame(h, encode(hello)), p.now);
  ASSERT_EQ(replies.size(), 1u);
  Decoded<FrameView> reply_frame = decode_frame(replies[0], 65536);
  ASSERT_TRUE(reply_frame.ok());
  Decoded<HelloReplyBody> reply = decode_hello_reply(reply_frame->payload);
  ASSERT_TRUE(reply.ok());
  auto result = (*kx)->finish(reply->hello.ephemeral);
  ASSERT_TRUE(result.ok());
  // The impostor cannot know the session id's keys, but the id itself comes
  // from the public transcript; it sends its (wrong) S_A under that id.
  crypto::Sm3 th;
  th.update(crypto::as_bytes("ferry link v1 transcript"));
  th.update(encode_frame(h, encode(hello)));
  th.update(ByteView(replies[0]).first(replies[0].size() - 32));
  crypto::Sm3 sid;
  sid.update(crypto::as_bytes("ferry link v1 session id"));
  sid.update(th.finish());
  const crypto::Sm3Digest d = sid.finish();
  FrameHeader ch;
  ch.type = FrameType::confirm;
  for (int i = 0; i < 8; ++i) ch.session_id = (ch.session_id << 8) | d[i];
  p.inner.engine->receive(encode_frame(ch, encode(ConfirmBody{result->initiator_confirmation, {}})), p.now);

  const std::string want =
      "key confirmation failed: peer does not hold the private key of pinned key " + fp_hex(keys.outer);
  EXPECT_TRUE(any_contains(p.inner.texts(LinkEventKind::handshake_failed), want))
      << joined(p.inner.texts(LinkEventKind::handshake_failed));
  EXPECT_EQ(p.inner.status().state, LinkState::handshaking);
}

// A hello altered in transit (here the policy serial, which no check would
// catch) makes the transcripts differ: the finished MAC fails.
TEST(Handshake, AlteredHelloFailsTheTranscriptCheck) {
  Pair p(Pair::Options{});
  int altered = 0;
  p.link.mutate = [&](int from, Bytes& f) {
    if (from == 0 && f[5] == static_cast<std::uint8_t>(FrameType::hello) && altered == 0) {
      f[kHeaderSize + 25] ^= 1;  // last byte of policy_serial
      ++altered;
    }
  };
  p.connect();
  p.run_for(100ms);
  EXPECT_TRUE(any_contains(p.outer.texts(LinkEventKind::handshake_failed), "handshake transcript mismatch"))
      << joined(p.outer.texts(LinkEventKind::handshake_failed));
  // The next attempt is not altered and succeeds.
  ASSERT_TRUE(p.run_until([&] { return p.both_up(); }, 5s));
}

TEST(Handshake, SurvivesLossOfEveryHandshakeMessage) {
  // Drop the first HELLO, HELLO_REPLY, CONFIRM and first sealed frame once each.
  Pair p(Pair::Options{});
  std::set<int> dropped;
  p.link.mutate = [&](int, Bytes& f) {
    const int type = f[5];
    const int key = type >= 0x10 ? 0x10 : type;
    if (!dropped.contains(key)) {
      dropped.insert(key);
      f.clear();  // an empty datagram: counted malformed, like a lost frame
    }
  };
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return p.both_up(); }, 10s));
  EXPECT_GE(dropped.size(), 4u);
  EXPECT_EQ(p.outer.status().session_id, p.inner.status().session_id);
}

TEST(Handshake, NoSealedFrameIsAcceptedBeforeTheHandshake) {
  Pair p(Pair::Options{});
  add_objects(p);
  std::vector<Bytes> sealed;
  p.link.tap = [&](int from, ByteView f) {
    if (from == 0 && f[5] >= 0x10) sealed.emplace_back(f.begin(), f.end());
  };
  p.connect();
  ASSERT_TRUE(p.run_until([&] { return !p.outer.sink.delivered.empty() && !p.inner.sink.delivered.empty(); }, 10s));
  // A fresh responder (restarted daemon) sees the old session's frames: all wrong_session.
  p.make_inner();
  p.inner.engine->connected(p.now);
  for (const Bytes& f : sealed) p.inner.engine->receive(f, p.now);
  EXPECT_EQ(p.inner.status().counters.dropped.wrong_session, sealed.size());
  EXPECT_EQ(p.inner.status().state, LinkState::handshaking);
}

}  // namespace
}  // namespace ferry::link::test

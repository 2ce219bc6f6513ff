// The frame codec and the message bodies: the exact layout of
// docs/link-protocol.md §2-§4, every DecodeError, truncation sweeps, and
// seeded random round trips.
#include "ferry/link/frame.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>

#include "ferry/link/messages.h"
#include "ferry/link/params.h"
#include "ferry/link/replay_window.h"
#include "tests/support/test_bytes.h"

namespace ferry::link {
namespace {

using ferry::test::hex;
using ferry::test::hex_of;

constexpr std::size_t kMax = 65536;

FrameHeader sample_header() {
  FrameHeader h;
  h.type = FrameType::data;
  h.session_id = 0x0102030405060708;
  h.sequence = 0x1112131415161718;
  for (std::size_t i = 0; i < 16; ++i) h.object.bytes[i] = static_cast<std::uint8_t>(0xA0 + i);
  h.offset = 0x2122232425262728;
  return h;
}

Bytes sealed_sample(std::size_t payload = crypto::kSealOverhead + 5) {
  return encode_frame(sample_header(), Bytes(payload, 0x5A));
}

DecodeError decode_error(ByteView b, std::size_t max = kMax) {
  Decoded<FrameView> d = decode_frame(b, max);
  EXPECT_FALSE(d.ok());
  return d.ok() ? DecodeError::bad_body : d.error();
}

TEST(FrameCodec, HeaderLayoutIsTheDocumentedOne) {
  const Bytes f = encode_frame(sample_header(), hex("c0ffee"));
  EXPECT_EQ(hex_of(f),
            "46525259"                          // magic "FRRY"
            "01"                                // version
            "15"                                // type DATA
            "0000"                              // flags
            "0102030405060708"                  // session_id
            "1112131415161718"                  // sequence
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"  // object_id
            "2122232425262728"                  // offset
            "00000003"                          // payload_length
            "c0ffee");
  EXPECT_EQ(kHeaderSize, 52u);
}

TEST(FrameCodec, RoundTrip) {
  const Bytes f = sealed_sample();
  Decoded<FrameView> d = decode_frame(f, kMax);
  ASSERT_TRUE(d.ok()) << to_string(d.error());
  const FrameHeader& h = d->header;
  const FrameHeader want = sample_header();
  EXPECT_EQ(h.type, want.type);
  EXPECT_EQ(h.session_id, want.session_id);
  EXPECT_EQ(h.sequence, want.sequence);
  EXPECT_EQ(h.object, want.object);
  EXPECT_EQ(h.offset, want.offset);
  EXPECT_EQ(h.payload_length, crypto::kSealOverhead + 5);
  EXPECT_EQ(d->header_bytes.size(), kHeaderSize);
  EXPECT_EQ(d->payload.size(), crypto::kSealOverhead + 5);
  EXPECT_EQ(d->bytes.size(), f.size());
}

TEST(FrameCodec, EveryShortPrefixIsRefused) {
  const Bytes f = sealed_sample();
  for (std::size_t n = 0; n < f.size(); ++n) {
    const DecodeError e = decode_error(ByteView(f).first(n));
    EXPECT_EQ(e, n < kHeaderSize ? DecodeError::truncated_header : DecodeError::length_exceeds_datagram) << n;
  }
}

TEST(FrameCodec, BadMagicVersionTypeFlags) {
  Bytes f = sealed_sample();
  Bytes m = f;
  m[0] ^= 1;
  EXPECT_EQ(decode_error(m), DecodeError::bad_magic);
  m = f;
  m[4] = 2;
  EXPECT_EQ(decode_error(m), DecodeError::bad_version);
  for (int t : {0x00, 0x05, 0x0F, 0x1C, 0xFF}) {
    m = f;
    m[5] = static_cast<std::uint8_t>(t);
    EXPECT_EQ(decode_error(m), DecodeError::bad_type) << t;
  }
  m = f;
  m[7] = 1;
  EXPECT_EQ(decode_error(m), DecodeError::bad_flags);
}

TEST(FrameCodec, LengthFieldIsCheckedAgainstMaxFrameAndDatagram) {
  Bytes f = sealed_sample();
  Bytes m = f;
  m[48] = m[49] = m[50] = m[51] = 0xFF;  // 4 GiB
  EXPECT_EQ(decode_error(m), DecodeError::length_exceeds_max_frame);
  // Exactly max_frame is fine, one more is not.
  const Bytes at_max = encode_frame(sample_header(), Bytes(1000 - kHeaderSize, 1));
  EXPECT_TRUE(decode_frame(at_max, 1000).ok());
  EXPECT_EQ(decode_error(at_max, 999), DecodeError::length_exceeds_max_frame);
  // A datagram longer than its frame.
  m = f;
  m.push_back(0);
  EXPECT_EQ(decode_error(m), DecodeError::trailing_bytes);
}

TEST(FrameCodec, FieldRulesPerType) {
  // Sealed frames need a session, a sequence and at least a seal's worth of payload.
  FrameHeader h = sample_header();
  h.session_id = 0;
  EXPECT_EQ(decode_error(encode_frame(h, Bytes(64))), DecodeError::bad_field);
  h = sample_header();
  h.sequence = 0;
  EXPECT_EQ(decode_error(encode_frame(h, Bytes(64))), DecodeError::bad_field);
  EXPECT_EQ(decode_error(encode_frame(sample_header(), Bytes(crypto::kSealOverhead - 1))), DecodeError::bad_field);
  // Object frames need an object; END carries no offset; KEEPALIVE no object.
  h = sample_header();
  h.object = ObjectId{};
  EXPECT_EQ(decode_error(encode_frame(h, Bytes(64))), DecodeError::bad_field);
  h = sample_header();
  h.type = FrameType::end;
  EXPECT_EQ(decode_error(encode_frame(h, Bytes(64))), DecodeError::bad_field);
  h.offset = 0;
  EXPECT_TRUE(decode_frame(encode_frame(h, Bytes(64)), kMax).ok());
  h = sample_header();
  h.type = FrameType::keepalive;
  h.offset = 0;
  EXPECT_EQ(decode_error(encode_frame(h, Bytes(64))), DecodeError::bad_field);
  h.object = ObjectId{};
  EXPECT_TRUE(decode_frame(encode_frame(h, Bytes(64)), kMax).ok());
  // Handshake frames carry no sequence, object or offset; only CONFIRM a session.
  FrameHeader hs;
  hs.type = FrameType::hello;
  EXPECT_TRUE(decode_frame(encode_frame(hs, Bytes(kHelloBodySize)), kMax).ok());
  hs.session_id = 5;
  EXPECT_EQ(decode_error(encode_frame(hs, Bytes(kHelloBodySize))), DecodeError::bad_field);
  hs.type = FrameType::confirm;
  EXPECT_TRUE(decode_frame(encode_frame(hs, Bytes(kConfirmBodySize)), kMax).ok());
  hs.session_id = 0;
  EXPECT_EQ(decode_error(encode_frame(hs, Bytes(kConfirmBodySize))), DecodeError::bad_field);
  hs.type = FrameType::refuse;
  hs.sequence = 1;
  EXPECT_EQ(decode_error(encode_frame(hs, Bytes(4))), DecodeError::bad_field);
}

TEST(FrameCodec, PeekReadsVersionAndTypeOfAnyVersion) {
  Bytes f = sealed_sample();
  f[4] = 9;
  f[5] = 0x01;
  std::optional<PeekedHeader> p = peek_header(f);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->version, 9);
  EXPECT_EQ(p->type, 0x01);
  f[0] = 'X';
  EXPECT_FALSE(peek_header(f));
  EXPECT_FALSE(peek_header(ByteView(f).first(10)));
}

TEST(FrameCodec, SeededRandomDatagramsNeverDecodeOutOfBounds) {
  std::mt19937_64 rng(42);
  const Bytes valid = sealed_sample(200);
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = (i % 2) ? ferry::test::random_bytes(rng, rng() % 300) : valid;
    if (i % 2 == 0) {
      for (int k = 0; k < 3; ++k) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    }
    Decoded<FrameView> d = decode_frame(b, 1024);
    if (d.ok()) {
      ++decoded;
      EXPECT_EQ(d->bytes.size(), b.size());
      EXPECT_EQ(kHeaderSize + d->header.payload_length, b.size());
      EXPECT_EQ(encode_frame(d->header, d->payload), b);
    }
  }
  EXPECT_GT(decoded, 0);
}

// --- bodies ---

HelloBody sample_hello() {
  HelloBody b;
  b.side = 1;
  b.params = {65536, 65440, 32, 1000};
  b.policy_serial = 77;
  b.own_key.fill(0x11);
  b.pinned_peer_key.fill(0x22);
  b.nonce.fill(0x33);
  b.ephemeral.fill(0x44);
  b.ephemeral[0] = 0x04;
  return b;
}

TEST(Messages, HelloLayout) {
  const Bytes b = encode(sample_hello());
  ASSERT_EQ(b.size(), kHelloBodySize);
  EXPECT_EQ(hex_of(ByteView(b).first(26)),
            "01"                  // protocol version
            "01"                  // side outer
            "00010000"            // max_frame
            "0000ffa0"            // chunk_size
            "00000020"            // window
            "000003e8"            // keepalive_ms
            "000000000000004d");  // policy serial
  EXPECT_EQ(b[26], 0x11);
  EXPECT_EQ(b[58], 0x22);
  EXPECT_EQ(b[90], 0x33);
  EXPECT_EQ(b[106], 0x04);
  Decoded<HelloBody> d = decode_hello(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->params, sample_hello().params);
  EXPECT_EQ(d->policy_serial, 77u);
  EXPECT_EQ(d->ephemeral, sample_hello().ephemeral);
}

TEST(Messages, EveryBodyRefusesEveryWrongLength) {
  HelloReplyBody reply{sample_hello(), {}, {}, {}};
  reply.finished.fill(9);
  const std::vector<std::pair<Bytes, std::function<bool(ByteView)>>> bodies = {
      {encode(sample_hello()), [](ByteView b) { return decode_hello(b).ok(); }},
      {encode(reply), [](ByteView b) { return decode_hello_reply(b).ok(); }},
      {encode(ConfirmBody{}), [](ByteView b) { return decode_confirm(b).ok(); }},
      {encode(ReasonBody{3, "why"}), [](ByteView b) { return decode_reason(b).ok(); }},
      {encode(OfferBody{10, {}, 4, "docs-in", "报告/2024 年.pdf"}), [](ByteView b) { return decode_offer(b).ok(); }},
      {encode(EndBody{10, {}}), [](ByteView b) { return decode_end(b).ok(); }},
      {encode(KeepaliveBody{8}), [](ByteView b) { return decode_keepalive(b).ok(); }},
  };
  for (const auto& [body, ok] : bodies) {
    EXPECT_TRUE(ok(body));
    for (std::size_t n = 0; n < body.size(); ++n) EXPECT_FALSE(ok(ByteView(body).first(n))) << n;
    Bytes longer = body;
    longer.push_back(0);
    EXPECT_FALSE(ok(longer));
  }
}

TEST(Messages, OfferRoundTripWithChineseNames) {
  OfferBody o{123456789, {}, 42, "docs-in", "公文/2024年/通知 (定稿).docx"};
  o.sm3.fill(0xAB);
  Decoded<OfferBody> d = decode_offer(encode(o));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size, o.size);
  EXPECT_EQ(d->sm3, o.sm3);
  EXPECT_EQ(d->policy_serial, 42u);
  EXPECT_EQ(d->channel, o.channel);
  EXPECT_EQ(d->path, o.path);
}

TEST(Messages, OfferRefusesEmptyOrInvalidUtf8Names) {
  Bytes b = encode(OfferBody{1, {}, 0, "c", "p"});
  // channel length 0
  Bytes m = b;
  m[48] = 0;
  m[49] = 0;
  EXPECT_FALSE(decode_offer(m).ok());
  // path byte replaced by a lone continuation byte
  m = b;
  m.back() = 0x80;
  EXPECT_FALSE(decode_offer(m).ok());
}

TEST(Messages, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("中文文件名.txt"));
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));       // U+1F600
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));          // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));      // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));              // truncated
  EXPECT_FALSE(is_valid_utf8("\xFF"));
}

TEST(Messages, ReasonTextIsCutAtACharacterBoundary) {
  std::string text;
  while (text.size() < kMaxReasonText + 10) text += "拒";  // 3 bytes each
  Decoded<ReasonBody> d = decode_reason(encode(ReasonBody{7, text}));
  ASSERT_TRUE(d.ok());
  EXPECT_LE(d->text.size(), kMaxReasonText);
  EXPECT_EQ(d->text.size() % 3, 0u);
  EXPECT_TRUE(is_valid_utf8(d->text));
}

// --- replay window (RFC 4303 §3.4.3) ---

TEST(ReplayWindow, FreshReplayAndTooOld) {
  ReplayWindow w;
  EXPECT_EQ(w.check(0), ReplayWindow::Verdict::too_old);
  EXPECT_EQ(w.check(1), ReplayWindow::Verdict::fresh);
  w.mark(1);
  EXPECT_EQ(w.check(1), ReplayWindow::Verdict::replay);
  w.mark(5);
  EXPECT_EQ(w.check(3), ReplayWindow::Verdict::fresh);  // reordered, inside the window
  w.mark(3);
  EXPECT_EQ(w.check(3), ReplayWindow::Verdict::replay);
  w.mark(5000);
  EXPECT_EQ(w.check(5000 - ReplayWindow::kSize), ReplayWindow::Verdict::too_old);
  EXPECT_EQ(w.check(5000 - ReplayWindow::kSize + 1), ReplayWindow::Verdict::fresh);
  EXPECT_EQ(w.check(5), ReplayWindow::Verdict::too_old);
}

TEST(ReplayWindow, SlidingClearsOldBits) {
  ReplayWindow w;
  for (std::uint64_t s = 1; s <= 3000; ++s) {
    ASSERT_EQ(w.check(s), ReplayWindow::Verdict::fresh) << s;
    w.mark(s);
  }
  // Every sequence in the window is a replay, nothing below it is fresh.
  for (std::uint64_t s = 3000 - ReplayWindow::kSize + 1; s <= 3000; ++s) {
    EXPECT_EQ(w.check(s), ReplayWindow::Verdict::replay) << s;
  }
  // Skipping ahead leaves the skipped sequences fresh, even where old bits were set.
  w.mark(3500);
  EXPECT_EQ(w.check(3001), ReplayWindow::Verdict::fresh);
  EXPECT_EQ(w.check(3499), ReplayWindow::Verdict::fresh);
  EXPECT_EQ(w.check(2990), ReplayWindow::Verdict::replay);
}

TEST(ReplayWindow, SeededRandomOrderMatchesAModel) {
  std::mt19937_64 rng(7);
  ReplayWindow w;
  std::set<std::uint64_t> seen;
  std::uint64_t top = 0;
  for (int i = 0; i < 50000; ++i) {
    const std::uint64_t s = 1 + (top > 600 ? top - 600 : 0) + rng() % 1400;
    ReplayWindow::Verdict want = s > top                         ? ReplayWindow::Verdict::fresh
                                 : top - s >= ReplayWindow::kSize ? ReplayWindow::Verdict::too_old
                                 : seen.contains(s)               ? ReplayWindow::Verdict::replay
                                                                  : ReplayWindow::Verdict::fresh;
    ASSERT_EQ(w.check(s), want) << "seq " << s << " top " << top;
    if (want == ReplayWindow::Verdict::fresh) {
      w.mark(s);
      seen.insert(s);
      top = std::max(top, s);
    }
  }
}

// --- parameters ---

TEST(LinkParams, DefaultsAreValidAndEachBoundIsChecked) {
  EXPECT_FALSE(LinkParams::defaults(Side::outer).check());
  EXPECT_FALSE(LinkParams::defaults(Side::inner).check());
  LinkParams p = LinkParams::defaults(Side::outer);
  p.chunk_size = p.max_frame - kFrameOverhead + 1;
  ASSERT_TRUE(p.check());
  EXPECT_NE(p.check()->find("chunk_size"), std::string::npos) << *p.check();
  p = LinkParams::defaults(Side::outer);
  p.max_frame = 100;
  EXPECT_TRUE(p.check());
  p = LinkParams::defaults(Side::outer);
  p.window = 0;
  EXPECT_TRUE(p.check());
  p = LinkParams::defaults(Side::outer);
  p.dead_after_keepalives = 1;
  EXPECT_TRUE(p.check());
  p = LinkParams::defaults(Side::outer);
  p.max_frame = 1500;
  p.chunk_size = 1500 - kFrameOverhead;
  EXPECT_FALSE(p.check());
}

}  // namespace
}  // namespace ferry::link

// The control codec: what crosses the socket decodes to what was sent, names
// in any script survive, and every other spelling of a message is refused.
#include "ferry/control/protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace ferry::control {
namespace {

using crypto::Result;

std::string hex_of(char c, std::size_t n) { return std::string(n, c); }

Request sample_request() {
  Request q;
  q.op = Op::reject;
  q.object = "0123456789abcdef0123456789abcdef";
  q.reason = "含有涉密标志\n第二行: 100% sure";
  q.side = "inner";
  q.challenge = hex_of('a', 64);
  q.issued_ms = 1767225600123;
  q.key = hex_of('b', 64);
  q.signature = "3045022100" + hex_of('c', 60);
  return q;
}

Reply sample_reply() {
  Reply r;
  r.ok = true;
  r.code = "ok";
  r.message = "2 objects await approval";
  r.next_challenge = hex_of('d', 64);
  r.entries.push_back({{"object", "0123456789abcdef0123456789abcdef"},
                       {"name", "报告\n(final).docx"},
                       {"approvals", "1 of 2: secadmin:ab12cd34"},
                       {"entry", "a key named like the marker"}});
  r.entries.push_back({});
  r.entries.push_back({{"preview", std::string("line1\r\nline2\x01\xff", 14)}});
  return r;
}

TEST(ControlProtocol, RequestRoundTrips) {
  const Request q = sample_request();
  const std::string body = encode(q);
  Result<Request> back = decode_request(body);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->op, q.op);
  EXPECT_EQ(back->object, q.object);
  EXPECT_EQ(back->reason, q.reason);
  EXPECT_EQ(back->side, q.side);
  EXPECT_EQ(back->challenge, q.challenge);
  EXPECT_EQ(back->issued_ms, q.issued_ms);
  EXPECT_EQ(back->key, q.key);
  EXPECT_EQ(back->signature, q.signature);
  // The reason's newline is escaped: the body has exactly one line per field.
  EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 9);
}

TEST(ControlProtocol, EveryOpRoundTrips) {
  for (Op op : {Op::pending, Op::quarantine_list, Op::show, Op::approve, Op::reject, Op::release, Op::purge}) {
    Request q;
    q.op = op;
    Result<Request> back = decode_request(encode(q));
    ASSERT_TRUE(back.ok()) << to_string(op) << ": " << back.error().message;
    EXPECT_EQ(back->op, op);
    EXPECT_EQ(parse_op(to_string(op)), op);
  }
  EXPECT_FALSE(parse_op("APPROVE"));
  EXPECT_TRUE(is_change(Op::purge));
  EXPECT_FALSE(is_change(Op::show));
}

TEST(ControlProtocol, ReplyRoundTripsWithEntriesInOrder) {
  const Reply r = sample_reply();
  Result<Reply> back = decode_reply(encode(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->ok, r.ok);
  EXPECT_EQ(back->code, r.code);
  EXPECT_EQ(back->message, r.message);
  EXPECT_EQ(back->next_challenge, r.next_challenge);
  EXPECT_EQ(back->entries, r.entries);
}

TEST(ControlProtocol, HelloRoundTrips) {
  Hello h{"outer", hex_of('e', 64), hex_of('f', 64)};
  Result<Hello> back = decode_hello(encode(h));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->side, "outer");
  EXPECT_EQ(back->fingerprint, h.fingerprint);
  EXPECT_EQ(back->challenge, h.challenge);
}

TEST(ControlProtocol, PercentEncodingIsTheOnlySpelling) {
  EXPECT_EQ(percent_encode("a b%\n"), "a b%25%0A");
  EXPECT_EQ(percent_encode("机"), "%E6%9C%BA");
  EXPECT_EQ(percent_decode("%E6%9C%BA"), "机");
  EXPECT_FALSE(percent_decode("%e6%9c%ba").has_value());
  Request q = sample_request();
  std::string body = encode(q);
  const std::size_t p = body.find("%E5");
  ASSERT_NE(p, std::string::npos);
  body.replace(p, 3, "%e5");
  EXPECT_FALSE(decode_request(body).ok());
  EXPECT_FALSE(percent_decode("%4").has_value());
  EXPECT_FALSE(percent_decode("%").has_value());
  EXPECT_FALSE(percent_decode("%G0").has_value());
  EXPECT_FALSE(percent_decode("tab\there").has_value());
}

TEST(ControlProtocol, StrictDecodeRefusesOtherSpellings) {
  const std::string good = encode(sample_request());
  ASSERT_TRUE(decode_request(good).ok());
  auto refused = [](std::string body) { return !decode_request(body).ok(); };
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string b = good;
    const std::size_t p = b.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    b.replace(p, from.size(), to);
    return b;
  };
  EXPECT_TRUE(refused(good.substr(0, good.size() - 1)));                       // no final newline
  EXPECT_TRUE(refused(good + "extra: field\n"));                                 // trailing field
  EXPECT_TRUE(refused(replace("op: reject", "op:  reject")));                   // extra space
  EXPECT_TRUE(refused(replace("op: reject", "Op: reject")));                    // key case
  EXPECT_TRUE(refused(replace("issued: 1767", "issued: 01767")));               // leading zero
  EXPECT_TRUE(refused(replace("issued: 1767", "issued: +1767")));
  EXPECT_TRUE(refused(replace("object: 0123", "object: 0A23")));                // upper-case hex
  EXPECT_TRUE(refused(replace("object: 0123456789abcdef0123456789abcdef", "object: 0123")));
  EXPECT_TRUE(refused(replace("side: inner", "side: in%0Aner")));
  EXPECT_TRUE(refused(replace("sure", "%73ure")));                              // needless escape
  EXPECT_TRUE(refused(replace("\n", "\r\n")));
  EXPECT_TRUE(refused(replace("kind: request", "kind: reply")));
  // Fields out of order.
  EXPECT_TRUE(refused(replace("op: reject\nobject: 0123456789abcdef0123456789abcdef",
                              "object: 0123456789abcdef0123456789abcdef\nop: reject")));
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused(std::string(kMaxBody + 1, 'a')));
}

TEST(ControlProtocol, ReplyCountsMustMatch) {
  const std::string good = encode(sample_reply());
  ASSERT_TRUE(decode_reply(good).ok());
  std::string b = good;
  b.replace(b.find("entries: 3"), 10, "entries: 4");
  EXPECT_FALSE(decode_reply(b).ok());
  b = good;
  b.replace(b.find("entries: 3"), 10, "entries: 99999999999999999999");
  EXPECT_FALSE(decode_reply(b).ok());
  b = good;
  b.replace(b.find("entry: 4"), 8, "entry: 9");
  EXPECT_FALSE(decode_reply(b).ok());
}

TEST(ControlProtocol, SignedTextIsDocumentedForm) {
  Request q = sample_request();
  EXPECT_EQ(signed_text(q),
            "ferry-control/1\nop=reject\nobject=0123456789abcdef0123456789abcdef\n"
            "reason=%E5%90%AB%E6%9C%89%E6%B6%89%E5%AF%86%E6%A0%87%E5%BF%97%0A%E7%AC%AC%E4%BA%8C%E8%A1%8C: 100%25 "
            "sure\nside=inner\nchallenge=" +
                hex_of('a', 64) + "\nissued=1767225600123\n");
  // Key and signature are not part of what is signed; every acted-on field is.
  Request other = q;
  other.key = hex_of('0', 64);
  other.signature.clear();
  EXPECT_EQ(signed_text(other), signed_text(q));
  other = q;
  other.op = Op::approve;
  EXPECT_NE(signed_text(other), signed_text(q));
}

TEST(ControlProtocol, FramesCarryTheirLength) {
  const std::string f = frame("abc");
  ASSERT_EQ(f.size(), 7u);
  EXPECT_EQ(f.substr(0, 4), std::string("\0\0\0\3", 4));
  const std::uint8_t ok[4] = {0x00, 0x10, 0x00, 0x00};
  Result<std::size_t> n = frame_body_size(ok);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, kMaxBody);
  const std::uint8_t big[4] = {0x00, 0x10, 0x00, 0x01};
  EXPECT_FALSE(frame_body_size(big).ok());
}

// Seeded random mutation: whatever decodes must be in its one spelling.
TEST(ControlProtocol, MutationsNeverDecodeToAnotherSpelling) {
  std::mt19937 rng(20261127);
  const std::string bases[] = {encode(sample_request()), encode(sample_reply()), encode(Hello{"inner", "", hex_of('1', 64)})};
  for (int i = 0; i < 20000; ++i) {
    std::string b = bases[i % 3];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % b.size();
      switch (rng() % 3) {
        case 0: b[at] = static_cast<char>(rng() & 0xff); break;
        case 1: b.erase(at, 1); break;
        default: b.insert(at, 1, "%: \nA0a"[rng() % 7]); break;
      }
      if (b.empty()) b = "x";
    }
    if (auto q = decode_request(b); q.ok()) {
      EXPECT_EQ(encode(*q), b);
    }
    if (auto r = decode_reply(b); r.ok()) {
      EXPECT_EQ(encode(*r), b);
    }
    if (auto h = decode_hello(b); h.ok()) {
      EXPECT_EQ(encode(*h), b);
    }
  }
}

// The fuzz seeds are real messages, so mutation starts from valid ground.
TEST(ControlProtocol, FuzzSeedsDecode) {
  std::size_t seeds = 0;
  for (const auto& file : std::filesystem::directory_iterator(FERRY_CONTROL_CORPUS)) {
    std::ifstream in(file.path(), std::ios::binary);
    const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const bool decodes = decode_hello(body).ok() || decode_request(body).ok() || decode_reply(body).ok();
    EXPECT_TRUE(decodes) << file.path();
    ++seeds;
  }
  EXPECT_GE(seeds, 5u);
}

}  // namespace
}  // namespace ferry::control

// ObjectId and the spool record codec: round trips of every kind of name,
// the exact on-disk text, and every way strict decoding refuses a record.
#include "ferry/spool/object_record.h"

#include <random>
#include <unordered_set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ferry::spool {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

ObjectId id_from(std::uint8_t seed) {
  ObjectId::Bytes b;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(seed + i * 17);
  return ObjectId(b);
}

ObjectRecord minimal() {
  ObjectRecord r;
  r.id = id_from(1);
  r.revision = 1;
  r.channel = "docs-in";
  r.path = "report.pdf";
  r.size = 0;
  r.state = State::incoming;
  r.created_ms = 1718000000000;
  r.updated_ms = 1718000000000;
  r.verdict = "ingested";
  return r;
}

std::string encoded(const ObjectRecord& r) {
  auto e = encode_record(r);
  EXPECT_TRUE(e.ok()) << e.error().message;
  return e.ok() ? *e : std::string();
}

void expect_round_trip(const ObjectRecord& r) {
  const std::string text = encoded(r);
  auto back = decode_record(text);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
  EXPECT_EQ(*back, r);
  EXPECT_EQ(encoded(*back), text);
}

TEST(ObjectIdTest, HexIsThirtyTwoLowerCaseDigitsAndParsesBack) {
  const ObjectId id = id_from(0xa0);
  const std::string hex = id.hex();
  EXPECT_EQ(hex, "a0b1c2d3e4f5061728394a5b6c7d8e9f");
  auto parsed = ObjectId::parse(hex);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, id);
  EXPECT_EQ(parsed->bytes(), id.bytes());
}

TEST(ObjectIdTest, ParseAcceptsOnlyTheCanonicalSpelling) {
  EXPECT_FALSE(ObjectId::parse("A0B1C2D3E4F5061728394A5B6C7D8E9F"));  // upper case
  EXPECT_FALSE(ObjectId::parse("a0b1c2d3e4f5061728394a5b6c7d8e9"));   // 31 digits
  EXPECT_FALSE(ObjectId::parse("a0b1c2d3e4f5061728394a5b6c7d8e9f0"));  // 33
  EXPECT_FALSE(ObjectId::parse("g0b1c2d3e4f5061728394a5b6c7d8e9f"));
  EXPECT_FALSE(ObjectId::parse(""));
}

TEST(ObjectIdTest, GeneratedIdsAreDistinctAndHashable) {
  std::unordered_set<ObjectId> seen;
  for (int i = 0; i < 2000; ++i) {
    auto id = ObjectId::generate();
    ASSERT_TRUE(id.ok());
    EXPECT_TRUE(seen.insert(*id).second);
  }
  EXPECT_LT(id_from(1), id_from(2));
}

TEST(RecordCodecTest, ExactTextOfAFullRecord) {
  ObjectRecord r = minimal();
  r.revision = 3;
  r.path = "年报/a b%.pdf";
  r.size = 42;
  r.sm3.fill(0xab);
  r.state = State::done;
  r.updated_ms = 1718000000123;
  r.verdict = "delivered";
  r.reasons = {{"name.invalid", "control char\n"}, {"type.mismatch", ""}};
  r.delivered_name = "年报/a b%~01122334.pdf";
  r.peer_serial = 7;
  const std::string want =
      "ferry-spool-record/1\n"
      "id: 0112233445566778899aabbccddeef00\n"
      "revision: 3\n"
      "channel: docs-in\n"
      "path: %E5%B9%B4%E6%8A%A5/a%20b%25.pdf\n"
      "size: 42\n"
      "sm3: abababababababababababababababababababababababababababababababab\n"
      "state: done\n"
      "created: 1718000000000\n"
      "updated: 1718000000123\n"
      "verdict: delivered\n"
      "reason: name.invalid control%20char%0A\n"
      "reason: type.mismatch\n"
      "delivered_name: %E5%B9%B4%E6%8A%A5/a%20b%25~01122334.pdf\n"
      "peer_serial: 7\n";
  EXPECT_EQ(encoded(r), want);
  expect_round_trip(r);
}

TEST(RecordCodecTest, RoundTripsChineseNamesAndHostileBytes) {
  const std::vector<std::string> paths = {
      "二〇二四年度工作总结/第一季度 报告.docx",
      "line\nbreak",
      "100% done",
      "%41 is not A",
      std::string("nul\0inside", 10),
      "tab\there\r\x1b[31mred",
      "\xff\xfe not utf-8 \xc0\xaf",
      "trailing space ",
      " leading",
      ":colon: value",
  };
  for (const std::string& p : paths) {
    ObjectRecord r = minimal();
    r.path = p;
    r.delivered_name = p + "~x";
    r.reasons = {{"name.invalid", p}};
    SCOPED_TRACE(p);
    expect_round_trip(r);
  }
  std::string every_byte;
  for (int b = 1; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  ObjectRecord r = minimal();
  r.path = every_byte;
  r.channel = every_byte;
  expect_round_trip(r);
}

TEST(RecordCodecTest, SeededRandomRecordsRoundTrip) {
  std::mt19937_64 rng(20240601);
  auto bytes = [&](std::size_t max) {
    std::string s(1 + rng() % max, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  for (int i = 0; i < 300; ++i) {
    ObjectRecord r;
    ObjectId::Bytes id;
    for (auto& b : id) b = static_cast<std::uint8_t>(rng());
    r.id = ObjectId(id);
    r.revision = rng();
    r.channel = bytes(kMaxChannelBytes);
    r.path = bytes(kMaxPathBytes);
    r.size = rng();
    for (auto& b : r.sm3) b = static_cast<std::uint8_t>(rng());
    r.state = kAllStates[rng() % kAllStates.size()];
    r.created_ms = static_cast<std::int64_t>(rng() >> 1);
    r.updated_ms = static_cast<std::int64_t>(rng() >> 1);
    r.verdict = "v" + std::to_string(rng() % 1000);
    for (std::size_t n = rng() % 4; n > 0; --n) r.reasons.push_back({"code." + std::to_string(n), rng() % 2 ? bytes(200) : ""});
    if (rng() % 2) r.delivered_name = bytes(300);
    if (rng() % 2) r.peer_serial = rng();
    expect_round_trip(r);
  }
}

TEST(RecordCodecTest, LargestValidRecordFitsTheDecoderCap) {
  ObjectRecord r = minimal();
  r.path = std::string(kMaxPathBytes, '\n');
  r.delivered_name = std::string(kMaxPathBytes, '\xff');
  r.channel = std::string(kMaxChannelBytes, ' ');
  r.verdict = std::string(kMaxTokenBytes, 'x');
  r.reasons.assign(kMaxReasons, Reason{std::string(kMaxTokenBytes, 'c'), std::string(kMaxReasonDetailBytes, '\x01')});
  r.peer_serial = UINT64_MAX;
  r.revision = UINT64_MAX;
  r.size = UINT64_MAX;
  r.created_ms = r.updated_ms = INT64_MAX;
  expect_round_trip(r);
}

TEST(RecordCodecTest, EncodeRefusesRecordsOutsideTheLimits) {
  auto refused = [](void (*edit)(ObjectRecord&), const char* what) {
    ObjectRecord r = minimal();
    edit(r);
    auto e = encode_record(r);
    ASSERT_FALSE(e.ok()) << what;
    EXPECT_EQ(e.error().code, crypto::Errc::invalid_argument);
    EXPECT_THAT(e.error().message, HasSubstr(what));
  };
  refused([](ObjectRecord& r) { r.channel.clear(); }, "channel");
  refused([](ObjectRecord& r) { r.channel.assign(256, 'c'); }, "channel");
  refused([](ObjectRecord& r) { r.path.clear(); }, "path");
  refused([](ObjectRecord& r) { r.path.assign(kMaxPathBytes + 1, 'p'); }, "path");
  refused([](ObjectRecord& r) { r.created_ms = -1; }, "timestamps");
  refused([](ObjectRecord& r) { r.verdict = "Accepted"; }, "verdict");
  refused([](ObjectRecord& r) { r.verdict.clear(); }, "verdict");
  refused([](ObjectRecord& r) { r.reasons = {{"bad code", ""}}; }, "reason code");
  refused([](ObjectRecord& r) { r.reasons = {{"x", std::string(1025, 'd')}}; }, "reason detail");
  refused([](ObjectRecord& r) { r.reasons.assign(65, Reason{"x", ""}); }, "reasons");
  refused([](ObjectRecord& r) { r.delivered_name = ""; }, "delivered_name");
}

// Decoding refusals: each case edits the canonical text of minimal().
struct BadRecord {
  const char* name;
  std::string (*edit)(std::string);
  const char* message;
};

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const std::size_t at = s.find(from);
  if (at == std::string::npos) throw std::invalid_argument("test edit: '" + from + "' not in the record");
  return s.replace(at, from.size(), to);
}

class StrictDecodeTest : public ::testing::TestWithParam<BadRecord> {};

TEST_P(StrictDecodeTest, RefusedWithAReason) {
  const std::string text = GetParam().edit(encoded(minimal()));
  auto r = decode_record(text);
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_EQ(r.error().code, crypto::Errc::bad_format);
  EXPECT_THAT(r.error().message, StartsWith("spool record: "));
  EXPECT_THAT(r.error().message, HasSubstr(GetParam().message));
}

const BadRecord kBadRecords[] = {
    {"empty", [](std::string) { return std::string(); }, "truncated"},
    {"no_final_newline", [](std::string s) { s.pop_back(); return s; }, "truncated"},
    {"wrong_magic", [](std::string s) { return replace(s, "ferry-spool-record/1", "ferry-record/1"); }, "line 1: not a spool record"},
    {"future_version", [](std::string s) { return replace(s, "record/1", "record/2"); }, "unsupported version"},
    {"unknown_key", [](std::string s) { return replace(s, "verdict:", "colour: red\nverdict:"); }, "line 11: unknown key 'colour'"},
    {"hostile_unknown_key", [](std::string s) { return replace(s, "verdict:", "\x1b[2J: x\nverdict:"); }, "unknown key '%1B[2J'"},
    {"duplicate_key", [](std::string s) { return replace(s, "size: 0\n", "size: 0\nsize: 0\n"); }, "duplicate key 'size'"},
    {"out_of_order", [](std::string s) { return replace(replace(s, "channel: docs-in\n", ""), "size: 0\n", "size: 0\nchannel: docs-in\n"); }, "'channel' out of order"},
    {"missing_colon_space", [](std::string s) { return replace(s, "size: 0", "size:0"); }, "expected 'key: value'"},
    {"missing_id", [](std::string s) { return replace(s, "id: 0112233445566778899aabbccddeef00\n", ""); }, "missing key 'id'"},
    {"missing_revision", [](std::string s) { return replace(s, "revision: 1\n", ""); }, "missing key 'revision'"},
    {"missing_channel", [](std::string s) { return replace(s, "channel: docs-in\n", ""); }, "missing key 'channel'"},
    {"missing_path", [](std::string s) { return replace(s, "path: report.pdf\n", ""); }, "missing key 'path'"},
    {"missing_size", [](std::string s) { return replace(s, "size: 0\n", ""); }, "missing key 'size'"},
    {"missing_sm3", [](std::string s) { return replace(s, "sm3: " + std::string(64, '0') + "\n", ""); }, "missing key 'sm3'"},
    {"missing_state", [](std::string s) { return replace(s, "state: incoming\n", ""); }, "missing key 'state'"},
    {"missing_created", [](std::string s) { return replace(s, "created: 1718000000000\n", ""); }, "missing key 'created'"},
    {"missing_updated", [](std::string s) { return replace(s, "updated: 1718000000000\n", ""); }, "missing key 'updated'"},
    {"missing_verdict", [](std::string s) { return replace(s, "verdict: ingested\n", ""); }, "missing key 'verdict'"},
    {"id_upper_case", [](std::string s) { return replace(s, "0112233445566778899aabbccddeef00", "0112233445566778899AABBCCDDEEFF0"); }, "id: not lower-case hex"},
    {"id_short", [](std::string s) { return replace(s, "0112233445566778899aabbccddeef00", "0112"); }, "id: expected 32 hex digits"},
    {"sm3_not_hex", [](std::string s) { return replace(s, std::string(64, '0'), "z" + std::string(63, '0')); }, "sm3: not lower-case hex"},
    {"sm3_short", [](std::string s) { return replace(s, std::string(64, '0'), std::string(62, '0')); }, "sm3: expected 64 hex digits"},
    {"size_leading_zero", [](std::string s) { return replace(s, "size: 0", "size: 00"); }, "size: not a canonical decimal"},
    {"size_sign", [](std::string s) { return replace(s, "size: 0", "size: +1"); }, "size: not a decimal"},
    {"size_overflow", [](std::string s) { return replace(s, "size: 0", "size: 18446744073709551616"); }, "size: not a decimal"},
    {"created_negative", [](std::string s) { return replace(s, "created: 1718000000000", "created: -1"); }, "created: not a decimal"},
    {"created_past_int64", [](std::string s) { return replace(s, "created: 1718000000000", "created: 9223372036854775808"); }, "created: out of range"},
    {"raw_space_in_path", [](std::string s) { return replace(s, "report.pdf", "my report.pdf"); }, "path: byte 0x20 must be percent-encoded"},
    {"raw_utf8_in_path", [](std::string s) { return replace(s, "report.pdf", "\xe5\xb9\xb4.pdf"); }, "path: byte 0xe5 must be percent-encoded"},
    {"percent_of_printable", [](std::string s) { return replace(s, "report.pdf", "%72eport.pdf"); }, "non-canonical percent-escape"},
    {"percent_lower_case", [](std::string s) { return replace(s, "report.pdf", "%e5.pdf"); }, "two upper-case hex digits"},
    {"percent_truncated", [](std::string s) { return replace(s, "report.pdf", "report.pdf%E"); }, "truncated percent-escape"},
    {"empty_path", [](std::string s) { return replace(s, "path: report.pdf", "path: "); }, "path: empty value"},
    {"path_too_long", [](std::string s) { return replace(s, "path: report.pdf", "path: " + std::string(4097, 'p')); }, "path: longer than 4096"},
    {"channel_too_long", [](std::string s) { return replace(s, "channel: docs-in", "channel: " + std::string(256, 'c')); }, "channel: longer than 255"},
    {"unknown_state", [](std::string s) { return replace(s, "state: incoming", "state: active"); }, "unknown state 'active'"},
    {"verdict_not_token", [](std::string s) { return replace(s, "verdict: ingested", "verdict: Ingested"); }, "verdict is not a token"},
    {"reason_bad_code", [](std::string s) { return s + "reason: Name.Invalid\n"; }, "reason code is not a token"},
    {"reason_empty_detail", [](std::string s) { return s + "reason: name.invalid \n"; }, "reason detail: empty value"},
    {"too_many_reasons", [](std::string s) { for (int i = 0; i < 65; ++i) s += "reason: x\n"; return s; }, "more than 64 reasons"},
    {"empty_delivered_name", [](std::string s) { return s + "delivered_name: \n"; }, "delivered_name: empty value"},
    {"serial_not_number", [](std::string s) { return s + "peer_serial: 0x10\n"; }, "peer_serial: not a canonical decimal"},
    {"blank_line", [](std::string s) { return s + "\n"; }, "expected 'key: value'"},
    {"crlf", [](std::string s) { return replace(s, "revision: 1\n", "revision: 1\r\n"); }, "revision: not a decimal"},
    {"over_long_record", [](std::string s) { return s + std::string(kMaxRecordBytes, 'x') + "\n"; }, "larger than 262144 bytes"},
};

INSTANTIATE_TEST_SUITE_P(Records, StrictDecodeTest, ::testing::ValuesIn(kBadRecords),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(RecordCodecTest, StateNamesRoundTrip) {
  for (State s : kAllStates) EXPECT_EQ(parse_state(state_name(s)), s);
  EXPECT_FALSE(parse_state("tmp"));
}

}  // namespace
}  // namespace ferry::spool

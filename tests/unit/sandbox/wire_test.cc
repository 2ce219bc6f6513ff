#include "ferry/sandbox/wire.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace ferry::sandbox {
namespace {

Answer sample_answer() {
  Answer a;
  a.seq = 42;
  a.type = "pdf";
  a.reasons = {{"keyword.match", "'机密' from list 'classified-markings' at line 1, column 3"}};
  a.removed = {"/OpenAction (JavaScript) in the catalog", "embedded file 'x.exe'"};
  a.masked = {"cn_id at line 3, column 7"};
  a.av = AvVerdict::clean;
  a.av_detail = "";
  a.has_output = true;
  a.output_size = 12345;
  a.output_sm3.fill(0xab);
  return a;
}

TEST(SandboxWire, EveryMessageRoundTrips) {
  sandbox::Setup s{"policy.yaml", "/etc/ferry", "/var/lib/ferry/avdb", 720, "/var/spool/ferry/worker/w1", "nobody",
          std::uint64_t{1} << 30, std::uint64_t{64} << 20, 2400, false};
  crypto::Result<sandbox::Setup> s2 = decode_setup(encode(s));
  ASSERT_TRUE(s2.ok()) << s2.error().message;
  EXPECT_EQ(s2->policy_dir, s.policy_dir);
  EXPECT_EQ(s2->av_max_age_hours, 720u);
  EXPECT_EQ(s2->memory, s.memory);
  EXPECT_EQ(s2->cpu_seconds, 2400u);
  EXPECT_FALSE(s2->require_chroot);

  Ready r;
  r.confinement = "user nobody, chroot, seccomp allow-list";
  r.policy_sm3.fill(7);
  r.policy_serial = 7;
  r.list_digests = {"names=00ff"};
  r.antivirus = "1 signatures";
  crypto::Result<Ready> r2 = decode_ready(encode(r));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->policy_sm3, r.policy_sm3);
  EXPECT_EQ(r2->list_digests, r.list_digests);

  Request q{9, Role::receive, "docs-in", "报告/年度.pdf", 77};
  crypto::Result<Request> q2 = decode_request(encode(q));
  ASSERT_TRUE(q2.ok());
  EXPECT_EQ(q2->role, Role::receive);
  EXPECT_EQ(q2->name, q.name);

  const Answer a = sample_answer();
  crypto::Result<Answer> a2 = decode_answer(encode(a));
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(a2->reasons, a.reasons);
  EXPECT_EQ(a2->removed, a.removed);
  EXPECT_EQ(a2->masked, a.masked);
  EXPECT_EQ(a2->output_sm3, a.output_sm3);
  EXPECT_TRUE(a2->has_output);
}

TEST(SandboxWire, EveryTruncationAndTrailingByteIsRefused) {
  const std::string packet = encode(sample_answer());
  for (std::size_t n = 0; n < packet.size(); ++n) {
    EXPECT_FALSE(decode_answer(packet.substr(0, n)).ok()) << "cut at " << n;
  }
  EXPECT_FALSE(decode_answer(packet + "x").ok());
}

TEST(SandboxWire, AMessageOfAnotherTypeIsRefused) {
  const std::string packet = encode(Request{1, Role::send, "c", "n", 1});
  EXPECT_EQ(peek_type(packet), MessageType::request);
  crypto::Result<Answer> a = decode_answer(packet);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("message type"), std::string::npos);
  EXPECT_FALSE(peek_type("").has_value());
  EXPECT_FALSE(peek_type("\x09").has_value());
}

TEST(SandboxWire, OutOfRangeFieldsAreNamed) {
  std::string packet = encode(Request{1, Role::send, "c", "n", 1});
  packet[9] = 7;  // the role byte, after type and seq
  crypto::Result<Request> r = decode_request(packet);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("role"), std::string::npos);

  // A string length beyond the limit is refused before anything is read.
  Answer a = sample_answer();
  std::string big = encode(a);
  big[9] = '\xff';
  big[10] = '\xff';  // type's length: 0xffff03 > kMaxString
  EXPECT_FALSE(decode_answer(big).ok());

  // An AV verdict or output flag out of range.
  std::string bad_av = encode(a);
  const std::size_t av_at = bad_av.size() - 32 - 8 - 1 - 4 - 1;  // av byte precedes av_detail ("" here)
  bad_av[av_at] = 9;
  EXPECT_FALSE(decode_answer(bad_av).ok());
}

TEST(SandboxWire, FitKeepsAnyAnswerWithinOneMessage) {
  Answer a = sample_answer();
  a.type = std::string(100000, 't');
  for (int i = 0; i < 1000; ++i) {
    a.reasons.push_back({"archive.name", std::string(5000, 'd')});
    a.removed.push_back(std::string(5000, 'r'));
    a.masked.push_back("cn_id at line " + std::to_string(i));
  }
  fit(a);
  const std::string packet = encode(a);
  EXPECT_LE(packet.size(), kMaxMessage);
  crypto::Result<Answer> back = decode_answer(packet);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->removed.back().rfind("... and ", 0), 0u);
  EXPECT_EQ(back->reasons.front().code, "keyword.match");  // the first reason always survives
}

// One packet of each message: the fuzz target's seeds, written to
// FERRY_WRITE_SEEDS when set (tests/unit/sandbox/corpus/wire), else to a
// temporary directory; each must decode as what it is and as nothing else.
TEST(SandboxWire, SeedsDecodeAsTheirOwnTypeOnly) {
  const char* env = std::getenv("FERRY_WRITE_SEEDS");
  const std::filesystem::path dir = env != nullptr ? std::filesystem::path(env)
                                                   : std::filesystem::temp_directory_path() / "ferry-wire-seeds";
  std::filesystem::create_directories(dir);
  Ready r;
  r.list_digests = {"a=00"};
  const std::pair<const char*, std::string> seeds[] = {
      {"setup", encode(sandbox::Setup{"p.yaml", "/d", "/av", 1, "/w", "nobody", 1, 2, 3, true})},
      {"ready", encode(r)},
      {"request", encode(Request{1, Role::send, "docs-in", "a.pdf", 10})},
      {"answer", encode(sample_answer())},
  };
  for (const auto& [name, bytes] : seeds) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    const std::string n = name;
    EXPECT_EQ(decode_setup(bytes).ok(), n == "setup");
    EXPECT_EQ(decode_ready(bytes).ok(), n == "ready");
    EXPECT_EQ(decode_request(bytes).ok(), n == "request");
    EXPECT_EQ(decode_answer(bytes).ok(), n == "answer");
  }
  if (env == nullptr) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry::sandbox

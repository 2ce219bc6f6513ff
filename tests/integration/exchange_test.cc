// Both daemons as real processes exchanging real files through the reference
// single-host layout: every file arrives once, byte-identical, nothing extra,
// whatever crashes.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/sm2.h"
#include "ferry/spool/source_scanner.h"
#include "ferry/spool/spool.h"
#include "tests/integration/delivery_check.h"
#include "tests/integration/two_sides.h"
#include "tests/support/fixtures.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
namespace stdfs = std::filesystem;

TEST(Exchange, TwoThousandFilesBothDirectionsArriveOnceAndIdentical) {
  TwoSides sides;
  sides.start_both();
  std::vector<Planned> plan;
  std::mt19937_64 rng(2026);
  // Channels and their max_size in the reference policy: docs-in 50MiB
  // (outer->inner), release-out 20MiB and open-data-out 100MiB (inner->outer).
  for (std::size_t i = 0; i < 2000; ++i) {
    const std::string channel = i % 5 < 3 ? "docs-in" : i % 5 == 3 ? "release-out" : "open-data-out";
    std::size_t size;
    if (i == 4 || i == 9) {
      size = std::size_t{64} << 20;  // the largest; i % 5 == 4 is open-data-out, max_size 100MiB
    } else if (i % 400 == 11) {
      size = std::size_t{16} << 20;
    } else if (i % 50 == 0) {
      size = 0;
    } else {
      static const std::size_t kSizes[] = {1, 100, 4096, 16384, 65535, 65536, 65537, 200000};
      size = kSizes[rng() % 8] + rng() % 1000;
    }
    const std::string path = name_for(i);
    const std::string content = make_content(i, size);
    plan.push_back({channel, path, sm3_hex(content)});
    drop_file(sides.inbox(channel), path, content);
  }
  // release-out needs a security officer's approval (reference policy):
  // the officer approves what ferryctl pending lists, as it comes.
  ASSERT_TRUE(TwoSides::wait_until(
      [&] {
        sides.approve_pending(Which::inner);
        return all_arrived(sides, plan);
      },
      std::chrono::minutes(8), std::chrono::milliseconds(500)))
      << "outer log tail:\n" << sides.log(Which::outer).substr(sides.log(Which::outer).size() > 3000 ? sides.log(Which::outer).size() - 3000 : 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // anything extra would show now
  expect_exactly(sides, plan);
  for (const char* ch : {"docs-in", "release-out", "open-data-out"}) {
    EXPECT_EQ(count_files(sides.inbox(ch)), 0u) << ch << ": every source file was taken";
  }
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
}

TEST(Exchange, KillNineAtRandomMomentsLosesNothingAndDoublesNothing) {
  TwoSides sides;
  sides.start_both();
  std::vector<Planned> plan;
  std::mt19937_64 rng(9);
  for (std::size_t i = 0; i < 500; ++i) {
    const std::string channel = i % 2 == 0 ? "docs-in" : "open-data-out";
    const std::size_t size = i % 25 == 0 ? (std::size_t{2} << 20) + rng() % 100000 : rng() % 70000;
    const std::string content = make_content(1000 + i, size);
    plan.push_back({channel, name_for(i), sm3_hex(content)});
    drop_file(sides.inbox(channel), plan.back().path, content);
  }
  for (int round = 0; round < 20; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    const Which victim = rng() % 2 == 0 ? Which::outer : Which::inner;
    sides.kill9(victim);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
    sides.start(victim);
  }
  ASSERT_TRUE(TwoSides::wait_until([&] { return all_arrived(sides, plan); }, std::chrono::minutes(5),
                                   std::chrono::milliseconds(300)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  expect_exactly(sides, plan);
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
}

TEST(Exchange, BadNamesAreQuarantinedNeverDelivered) {
  TwoSides sides;
  sides.start_both();
  drop_file(sides.inbox("docs-in"), "ok.txt", "fine");
  drop_file(sides.inbox("docs-in"), "bad\x01name.txt", "control character");
  std::string deep;  // 6 x 200 bytes: each component fits the file system, the path exceeds 1024 bytes
  for (int i = 0; i < 6; ++i) deep += std::string(200, static_cast<char>('a' + i)) + "/";
  drop_file(sides.inbox("docs-in"), deep + "f.txt", "path too long");
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("docs-in")) == 1; }, std::chrono::seconds(30)));
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return sides.log(Which::outer).find("\"reason\":\"name.invalid\"") != std::string::npos; },
      std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(digest_tree(sides.outbox("docs-in")).size(), 1u);
  EXPECT_EQ(count_files(sides.spool(Which::outer) + "/quarantine"), 4u) << "2 objects, data and record each";
}

TEST(Exchange, TheReferencePolicyDisarmsScansMasksAndRefusesWithItsReasons) {
  // The reference policy unchanged. docs-in: antivirus required (the test
  // database knows EICAR) and disarm; open-data-out: type, keywords, and
  // personal data masked.
  TwoSides sides;
  sides.start_both();
  test::PdfOptions js;
  js.javascript = true;
  drop_file(sides.inbox("docs-in"), "通知.txt", "an ordinary notice\n");
  drop_file(sides.inbox("docs-in"), "report.pdf", test::make_pdf({"annual report"}, js));
  // The EICAR test file, put together here so no binary carries it whole.
  const std::string eicar = std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*";
  drop_file(sides.inbox("docs-in"), "readme.txt", eicar);
  drop_file(sides.inbox("open-data-out"), "roads.csv", "road,length\nNorth Ring,12\n");
  drop_file(sides.inbox("open-data-out"), "tool.csv", std::string("\x7f" "ELF\x02\x01\x01\0\0", 9) + std::string(3000, '\x90'));
  drop_file(sides.inbox("open-data-out"), "memo.txt", "本文件为绝 密，不得公开\n");
  drop_file(sides.inbox("open-data-out"), "staff.csv", "name,id,mobile\n张三,11010519491231002X,13800138000\n");
  drop_file(sides.inbox("open-data-out"), "roads.pdf", "road,length\n");
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("open-data-out")) == 2; },
                                   std::chrono::seconds(60)))
      << sides.log(Which::inner);
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("docs-in")) == 2; }, std::chrono::seconds(60)))
      << sides.log(Which::outer);
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return count_files(sides.spool(Which::inner) + "/quarantine") == 6; }, std::chrono::seconds(30)))
      << sides.log(Which::inner);
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return count_files(sides.spool(Which::outer) + "/quarantine") == 2; }, std::chrono::seconds(30)));
  std::map<std::string, std::string> open_data = digest_tree(sides.outbox("open-data-out"));
  EXPECT_EQ(open_data["roads.csv"], sm3_hex("road,length\nNorth Ring,12\n"));
  // Masked, every other byte as it was.
  EXPECT_EQ(open_data["staff.csv"], sm3_hex("name,id,mobile\n张三,110105********002X,138****8000\n"));
  // Rebuilt without its JavaScript.
  std::ifstream pdf(sides.outbox("docs-in") + "/report.pdf", std::ios::binary);
  const std::string delivered((std::istreambuf_iterator<char>(pdf)), std::istreambuf_iterator<char>());
  EXPECT_THAT(delivered, ::testing::StartsWith("%PDF-"));
  EXPECT_THAT(delivered, ::testing::Not(HasSubstr("/JavaScript")));
  const std::string outer = sides.log(Which::outer), inner = sides.log(Which::inner);
  EXPECT_THAT(outer, HasSubstr("\"event\":\"worker.started\""));
  EXPECT_THAT(outer, HasSubstr("seccomp"));
  EXPECT_THAT(outer, HasSubstr("\"reason\":\"malware.eicar-test-signature.unofficial\"")) << outer;
  EXPECT_THAT(outer, HasSubstr("\"removed\":\"/OpenAction"));
  EXPECT_THAT(outer, HasSubstr("\"antivirus\":\"clean\""));
  EXPECT_THAT(inner, HasSubstr("\"reason\":\"type.unknown\""));
  EXPECT_THAT(inner, HasSubstr("\"reason\":\"keyword.match\""));
  EXPECT_THAT(inner, HasSubstr("from list 'classified-markings'"));
  EXPECT_THAT(inner, HasSubstr("\"reason\":\"type.extension\""));
  EXPECT_THAT(inner, HasSubstr("\"masked\":\"cn_id at line 2"));
  EXPECT_THAT(inner, ::testing::Not(HasSubstr("11010519491231002X")));
  EXPECT_THAT(inner, ::testing::Not(HasSubstr("13800138000")));
}

// Objects the outer side took but had not finished inspecting when it
// stopped, put straight into its spool, with the marker ferryd leaves while
// it inspects.
std::vector<spool::ObjectId> taken_not_inspected(TwoSides& sides, const std::vector<std::string>& names) {
  stdfs::create_directories(sides.spool(Which::outer));
  crypto::Result<spool::Spool> sp = spool::Spool::open(sides.spool(Which::outer));
  if (!sp.ok()) throw std::runtime_error(sp.error().message);
  std::vector<spool::ObjectId> ids;
  std::vector<std::string> contents;
  std::vector<spool::Spool::NewObject> objects;
  for (const std::string& name : names) contents.push_back("the text of " + name + "\n");
  for (std::size_t k = 0; k < names.size(); ++k) {
    spool::Spool::NewObject o;
    ids.push_back(*spool::ObjectId::generate());
    o.record = spool::ingest_record(ids.back(), "docs-in", names[k], o.state);
    o.record.size = contents[k].size();
    o.bytes = crypto::as_bytes(contents[k]);
    objects.push_back(std::move(o));
  }
  for (const auto& r : sp->create_batch(objects)) {
    if (!r.ok()) throw std::runtime_error(r.error().message);
  }
  return ids;
}

TEST(Exchange, ObjectsFoundInIncomingAtStartAreExaminedAndSentAsTheyAreOnDisk) {
  TwoSides sides;
  const std::vector<spool::ObjectId> ids = taken_not_inspected(sides, {"a.txt", "b.txt", "c.txt"});
  // c's data was replaced (as a rebuilt or masked object is renamed over
  // it) and ferryd stopped before the move that records its new SM3.
  const std::string rebuilt = "the rebuilt text of c.txt, longer than it was\n";
  std::ofstream(sides.spool(Which::outer) + "/incoming/" + ids[2].hex() + ".data", std::ios::trunc) << rebuilt;
  sides.start_both();
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("docs-in")) == 3; }, std::chrono::seconds(30)))
      << sides.log(Which::outer) << sides.log(Which::inner);
  std::map<std::string, std::string> got = digest_tree(sides.outbox("docs-in"));
  EXPECT_EQ(got["a.txt"], sm3_hex("the text of a.txt\n"));
  EXPECT_EQ(got["c.txt"], sm3_hex(rebuilt));
  EXPECT_EQ(count_files(sides.spool(Which::inner) + "/quarantine"), 0u);
}

TEST(Exchange, OversizedObjectIsQuarantinedWithTheOfficersLimit) {
  TwoSides sides;
  sides.start_both();
  drop_file(sides.inbox("release-out"), "too big.bin", make_content(1, (std::size_t{20} << 20) + 1));
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return sides.log(Which::inner).find("\"reason\":\"size.too_large\"") != std::string::npos; },
      std::chrono::seconds(30)));
  EXPECT_THAT(sides.log(Which::inner), HasSubstr("exceeds max_size 20MiB (20971520)"));
  EXPECT_EQ(count_files(sides.outbox("release-out")), 0u);
}

TEST(Exchange, ExistingFileIsNeverOverwritten) {
  TwoSides sides;
  drop_file(sides.outbox("docs-in"), "会议纪要.txt", "already here");
  sides.start_both();
  drop_file(sides.inbox("docs-in"), "会议纪要.txt", "new version");
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("docs-in")) == 2; }, std::chrono::seconds(30)));
  auto tree = digest_tree(sides.outbox("docs-in"));
  EXPECT_EQ(tree["会议纪要.txt"], sm3_hex("already here"));
  bool suffixed = false;
  for (const auto& [path, sm3] : tree) {
    if (path != "会议纪要.txt" && path.starts_with("会议纪要~") && path.ends_with(".txt")) {
      suffixed = true;
      EXPECT_EQ(sm3, sm3_hex("new version"));
    }
  }
  EXPECT_TRUE(suffixed);
  EXPECT_TRUE(TwoSides::wait_until(
      [&] { return sides.log(Which::inner).find("delivered under a suffixed name") != std::string::npos; },
      std::chrono::seconds(5)));
}

TEST(Exchange, WrongPinnedKeyIsRefusedAndNamedAndNothingCrosses) {
  TwoSides sides;
  // The outer side pins a key the inner side does not hold.
  auto stranger = crypto::Sm2PrivateKey::generate();
  ASSERT_TRUE(stranger.ok());
  std::ofstream(sides.dir() + "/keys/inner.pub", std::ios::trunc) << stranger->public_key().to_pem();
  sides.start_both();
  drop_file(sides.inbox("docs-in"), "a.txt", "x");
  ASSERT_TRUE(TwoSides::wait_until(
      [&] {
        const std::string l = sides.log(Which::outer) + sides.log(Which::inner);
        return l.find("link.refused") != std::string::npos || l.find("link.handshake_failed") != std::string::npos;
      },
      std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(count_files(sides.outbox("docs-in")), 0u);
  // Both values are named: the key the peer pinned and the key we hold.
  EXPECT_THAT(sides.log(Which::inner), HasSubstr("but our key fingerprint is"));
  EXPECT_TRUE(sides.running(Which::inner));
  EXPECT_TRUE(sides.running(Which::outer));
}

int raw_connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(Exchange, GarbageTruncatedAndOversizedFramesAreRefusedAndTheSideGoesOn) {
  TwoSides sides;
  sides.start(Which::inner);
  const std::string sock = sides.dir() + "/var/link.sock";
  ASSERT_TRUE(TwoSides::wait_until([&] { return std::filesystem::exists(sock); }, std::chrono::seconds(10)));
  const std::string garbage = make_content(5, 4096);
  const unsigned char frame_len[] = {0, 0, 0, 200};
  const unsigned char oversized[] = {0x7f, 0xff, 0xff, 0xff};
  for (int kind = 0; kind < 3; ++kind) {
    int fd = -1;
    ASSERT_TRUE(TwoSides::wait_until([&] { return (fd = raw_connect(sock)) >= 0; }, std::chrono::seconds(5)));
    if (kind == 0) {  // garbage framed as frames
      for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(::write(fd, frame_len, 4), 4);
        ASSERT_EQ(::write(fd, garbage.data() + i * 200, 200), 200);
      }
    } else if (kind == 1) {  // a truncated frame, then close
      ASSERT_EQ(::write(fd, frame_len, 4), 4);
      ASSERT_EQ(::write(fd, garbage.data(), 50), 50);
    } else {  // a length field of 2 GiB
      ASSERT_EQ(::write(fd, oversized, 4), 4);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::close(fd);
  }
  ASSERT_TRUE(sides.running(Which::inner));
  sides.start(Which::outer);
  drop_file(sides.inbox("docs-in"), "after the attack.txt", "still works");
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("docs-in")) == 1; }, std::chrono::seconds(30)));
  EXPECT_THAT(sides.log(Which::inner), HasSubstr("exceeds the limit"));
}

TEST(Exchange, SighupReloadsAGoodPolicyAndRefusesABadOne) {
  TwoSides sides;
  sides.start_both();
  ASSERT_TRUE(TwoSides::wait_until([&] { return sides.log(Which::outer).find("side.started") != std::string::npos; },
                                   std::chrono::seconds(10)));
  const std::string policy_path = sides.dir() + "/policy.yaml";
  std::string text;
  {
    std::ifstream in(policy_path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Signed by the officer, so that what is refused is the content.
  sides.write_signed_policy("schema: ferry-policy/1\nserial: oops\n");
  sides.signal(Which::outer, SIGHUP);
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return sides.log(Which::outer).find("policy.reload_refused") != std::string::npos; },
      std::chrono::seconds(10)));
  EXPECT_THAT(sides.log(Which::outer), HasSubstr("\"reason\":\"invalid\""));
  EXPECT_TRUE(sides.running(Which::outer));
  drop_file(sides.inbox("docs-in"), "during bad reload.txt", "old policy still runs");
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("docs-in")) == 1; }, std::chrono::seconds(30)));

  std::string v8 = text;
  v8.replace(v8.find("serial: 7"), 9, "serial: 8");
  sides.write_signed_policy(v8);
  sides.signal(Which::outer, SIGHUP);
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return sides.log(Which::outer).find("\"event\":\"policy.reloaded\"") != std::string::npos; },
      std::chrono::seconds(10)));
  EXPECT_THAT(sides.log(Which::outer), HasSubstr("\"serial\":\"8\""));
}

}  // namespace
}  // namespace ferry::test

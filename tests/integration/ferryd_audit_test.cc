// [audit] as an officer, an auditor and an operator see it, with both
// daemons as real processes on the reference policy: release-out waits for
// a security officer's signed approval (and refuses the other roles), two
// reviewers must be two officers, a replayed request is refused, the audit
// trail verifies and goes to a syslog listener the test runs, the metrics
// endpoint is scraped and parsed, and a full audit trail stops ingest
// (block) or makes room from exported segments (overwrite_oldest).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/sm2.h"
#include "ferry/control/client.h"
#include "policy/signature.h"
#include "tests/integration/delivery_check.h"
#include "tests/integration/two_sides.h"
#include "tests/support/prometheus_text.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace stdfs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every record of a side's audit trail, in order (all segments).
std::string audit_text(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : stdfs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.starts_with("audit-") && n.ends_with(".jsonl")) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::string all;
  for (const std::string& f : files) all += slurp(f);
  return all;
}

// The id ferryctl pending lists for an object named `name`, once it waits.
std::string wait_pending(const TwoSides& sides, Which w, const std::string& name) {
  std::string id;
  TwoSides::wait_until(
      [&] {
        ProcessOutcome p = sides.ctl(w, {"pending", "--json"});
        std::smatch m;
        const std::regex re("\"object\": ?\"([0-9a-f]{32})\"[^}]*\"name\": ?\"" + name + "\"");
        if (p.succeeded() && std::regex_search(p.out, m, re)) id = m[1].str();
        return !id.empty();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200));
  return id;
}

TEST(Approval, OnlyASecurityOfficerReleasesAndEveryDecisionIsAudited) {
  TwoSides sides;
  sides.start_both();
  const std::string notice = "公告: the county office opens at nine.\n";
  drop_file(sides.inbox("release-out"), "notice.txt", notice);
  const std::string id = wait_pending(sides, Which::inner, "notice.txt");
  ASSERT_FALSE(id.empty()) << sides.log(Which::inner);

  // What the officer decides on.
  ProcessOutcome listed = sides.ctl(Which::inner, {"pending"});
  ASSERT_TRUE(listed.succeeded()) << listed.describe() << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("notice.txt"));
  ProcessOutcome shown = sides.ctl(Which::inner, {"pending", "--json"});
  EXPECT_THAT(shown.out, HasSubstr(sm3_hex(notice)));
  EXPECT_THAT(shown.out, HasSubstr("county office")) << "a text preview";
  EXPECT_THAT(shown.out, HasSubstr("0 of 1"));

  // Not sent without approval.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(count_files(sides.outbox("release-out")), 0u);

  // The other roles, and keys that are no officer's, are refused.
  ProcessOutcome auditor = sides.ctl(Which::inner, {"approve", id, "--key", sides.key("auditor")});
  EXPECT_EQ(auditor.exit_code, 1) << auditor.describe();
  EXPECT_THAT(auditor.err, HasSubstr("wrong_role"));
  EXPECT_THAT(auditor.err, HasSubstr("secadmin"));
  ProcessOutcome sysadmin = sides.ctl(Which::inner, {"approve", id, "--key", sides.key("sysadmin")});
  EXPECT_EQ(sysadmin.exit_code, 1);
  EXPECT_THAT(sysadmin.err, HasSubstr("wrong_role"));
  ProcessOutcome machine = sides.ctl(Which::inner, {"approve", id, "--key", sides.key("outer")});
  EXPECT_EQ(machine.exit_code, 1);
  EXPECT_THAT(machine.err, HasSubstr("unknown_key"));
  ProcessOutcome unknown = sides.ctl(Which::inner, {"approve", std::string(32, 'a'), "--key", sides.key("secadmin")});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("unknown_object"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(count_files(sides.outbox("release-out")), 0u);

  ProcessOutcome ok = sides.ctl(Which::inner, {"approve", id, "--key", sides.key("secadmin")});
  ASSERT_TRUE(ok.succeeded()) << ok.describe() << ok.err;
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("release-out")) == 1; }, std::chrono::seconds(60)))
      << sides.log(Which::inner);
  EXPECT_EQ(digest_tree(sides.outbox("release-out")).at("notice.txt"), sm3_hex(notice));
  ProcessOutcome again = sides.ctl(Which::inner, {"approve", id, "--key", sides.key("secadmin2")});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("unknown_object")) << "sent objects leave the spool";

  // Rejected with a reason, shown in quarantine, purged only by a secadmin.
  drop_file(sides.inbox("release-out"), "draft.txt", "a draft nobody approved\n");
  const std::string draft = wait_pending(sides, Which::inner, "draft.txt");
  ASSERT_FALSE(draft.empty());
  ProcessOutcome no_reason = sides.ctl(Which::inner, {"reject", draft, "--key", sides.key("secadmin")});
  EXPECT_EQ(no_reason.exit_code, 2) << "a rejection needs a reason";
  ProcessOutcome rejected =
      sides.ctl(Which::inner, {"reject", draft, "--key", sides.key("secadmin"), "--reason", "not for publication"});
  ASSERT_TRUE(rejected.succeeded()) << rejected.describe() << rejected.err;
  ProcessOutcome q = sides.ctl(Which::inner, {"quarantine", "show", draft});
  ASSERT_TRUE(q.succeeded()) << q.err;
  EXPECT_THAT(q.out, HasSubstr("not for publication"));
  EXPECT_THAT(q.out, HasSubstr("approval.rejected"));
  ProcessOutcome purge_auditor = sides.ctl(Which::inner, {"quarantine", "purge", draft, "--key", sides.key("auditor")});
  EXPECT_EQ(purge_auditor.exit_code, 1);
  EXPECT_THAT(purge_auditor.err, HasSubstr("wrong_role"));
  ProcessOutcome purged = sides.ctl(Which::inner, {"quarantine", "purge", draft, "--key", sides.key("secadmin")});
  ASSERT_TRUE(purged.succeeded()) << purged.err;
  EXPECT_THAT(sides.ctl(Which::inner, {"quarantine", "list"}).out, Not(HasSubstr(draft)));

  EXPECT_EQ(sides.stop(Which::inner), 0);
  EXPECT_EQ(sides.stop(Which::outer), 0);
  // Every decision is on the record, with who took it, and the record holds.
  const std::string trail = audit_text(sides.audit_dir(Which::inner));
  EXPECT_THAT(trail, HasSubstr("\"event\":\"object.pending\""));
  EXPECT_THAT(trail, HasSubstr("\"event\":\"object.approved\""));
  EXPECT_THAT(trail, HasSubstr("\"actor\":\"secadmin:"));
  EXPECT_THAT(trail, HasSubstr("\"event\":\"object.rejected\""));
  EXPECT_THAT(trail, HasSubstr("\"event\":\"object.purged\""));
  EXPECT_THAT(trail, HasSubstr("\"reason\":\"wrong_role\"")) << "refused attempts are on the record too";
  EXPECT_THAT(trail, HasSubstr("\"reason\":\"unknown_key\""));
  EXPECT_THAT(trail, HasSubstr("\"event\":\"policy.loaded\""));
  EXPECT_THAT(trail, HasSubstr("\"event\":\"selftest.passed\""));
  for (Which w : {Which::outer, Which::inner}) {
    const std::string who = w == Which::outer ? "outer" : "inner";
    ProcessOutcome v = sides.ctl(w, {"audit", "verify", sides.audit_dir(w), "--pub", sides.pub(who)});
    EXPECT_TRUE(v.succeeded()) << who << ": " << v.describe() << "\n" << v.out << v.err;
  }
}

TEST(Approval, TwoReviewersMeansTwoDifferentOfficers) {
  TwoSides sides;
  std::string policy = slurp(sides.policy_path());
  const std::string from = "approval: required ";
  ASSERT_NE(policy.find(from), std::string::npos);
  policy.replace(policy.find(from), from.size(), "approval: { required: true, reviewers: 2 } ");
  policy.replace(policy.find("serial: 7"), 9, "serial: 8");
  sides.write_signed_policy(policy);
  sides.start_both();
  drop_file(sides.inbox("release-out"), "budget.csv", "item,amount\npaper,120\n");
  const std::string id = wait_pending(sides, Which::inner, "budget.csv");
  ASSERT_FALSE(id.empty()) << sides.log(Which::inner);
  ProcessOutcome first = sides.ctl(Which::inner, {"approve", id, "--key", sides.key("secadmin")});
  ASSERT_TRUE(first.succeeded()) << first.err;
  EXPECT_THAT(first.out + first.err, HasSubstr("1 of 2"));
  ProcessOutcome twice = sides.ctl(Which::inner, {"approve", id, "--key", sides.key("secadmin")});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_THAT(twice.err, HasSubstr("duplicate_reviewer"));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(count_files(sides.outbox("release-out")), 0u) << "one officer is not enough";
  ProcessOutcome second = sides.ctl(Which::inner, {"approve", id, "--key", sides.key("secadmin2")});
  ASSERT_TRUE(second.succeeded()) << second.err;
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("release-out")) == 1; }, std::chrono::seconds(60)));
  // Approvals survive a restart: a first approval is durable.
  drop_file(sides.inbox("release-out"), "second.csv", "item,amount\nink,30\n");
  const std::string id2 = wait_pending(sides, Which::inner, "second.csv");
  ASSERT_FALSE(id2.empty());
  ASSERT_TRUE(sides.ctl(Which::inner, {"approve", id2, "--key", sides.key("secadmin2")}).succeeded());
  EXPECT_EQ(sides.stop(Which::inner), 0);
  sides.start(Which::inner);
  TwoSides::wait_until([&] { return sides.ctl(Which::inner, {"pending"}).succeeded(); }, std::chrono::seconds(30));
  ProcessOutcome after = sides.ctl(Which::inner, {"pending", "--json"});
  EXPECT_THAT(after.out, HasSubstr("1 of 2"));
  ProcessOutcome same = sides.ctl(Which::inner, {"approve", id2, "--key", sides.key("secadmin2")});
  EXPECT_THAT(same.err, HasSubstr("duplicate_reviewer"));
  ASSERT_TRUE(sides.ctl(Which::inner, {"approve", id2, "--key", sides.key("secadmin")}).succeeded());
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("release-out")) == 2; }, std::chrono::seconds(60)));
  EXPECT_EQ(sides.stop(Which::inner), 0);
  EXPECT_EQ(sides.stop(Which::outer), 0);
}

TEST(Approval, AReplayedSignedRequestIsRefusedAndAudited) {
  TwoSides sides;
  sides.start_both();
  drop_file(sides.inbox("release-out"), "once.txt", "to be approved exactly once\n");
  const std::string id = wait_pending(sides, Which::inner, "once.txt");
  ASSERT_FALSE(id.empty()) << sides.log(Which::inner);
  const std::string socket = sides.spool(Which::inner) + "/control.sock";
  // An officer's signed approval, as bytes someone could capture.
  crypto::Result<control::ControlClient> first = control::ControlClient::connect(socket);
  ASSERT_TRUE(first.ok()) << first.error().message;
  crypto::Result<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::from_pem(slurp(sides.key("secadmin")));
  ASSERT_TRUE(key.ok());
  control::Request q;
  q.op = control::Op::approve;
  q.object = id;
  q.side = "inner";
  q.challenge = first->hello().challenge;
  q.issued_ms = 1;
  q.key = policy::fingerprint(key->public_key());
  crypto::Result<crypto::Bytes> sig = crypto::sm2_sign(*key, crypto::as_bytes(control::signed_text(q)));
  ASSERT_TRUE(sig.ok());
  q.signature = crypto::to_hex(*sig);
  const std::string body = control::encode(q);
  crypto::Result<std::string> answer = first->exchange(body);
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  crypto::Result<control::Reply> ok = control::decode_reply(*answer);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok) << ok->code << ": " << ok->message;
  // The same bytes again, on the same connection and on a new one.
  for (int round = 0; round < 2; ++round) {
    crypto::Result<control::ControlClient> c =
        round == 0 ? std::move(first) : control::ControlClient::connect(socket);
    ASSERT_TRUE(c.ok());
    crypto::Result<std::string> again = c->exchange(body);
    ASSERT_TRUE(again.ok()) << again.error().message;
    crypto::Result<control::Reply> r = control::decode_reply(*again);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->code, "replayed") << r->message;
    EXPECT_THAT(r->message, HasSubstr("replayed"));
  }
  ASSERT_TRUE(TwoSides::wait_until([&] { return count_files(sides.outbox("release-out")) == 1; }, std::chrono::seconds(60)));
  EXPECT_EQ(sides.stop(Which::inner), 0);
  EXPECT_EQ(sides.stop(Which::outer), 0);
  const std::string trail = audit_text(sides.audit_dir(Which::inner));
  EXPECT_THAT(trail, HasSubstr("\"event\":\"control.refused\",\"op\":\"approve\",\"object\":\"" + id));
  EXPECT_THAT(trail, HasSubstr("\"reason\":\"replayed\""));
}

// A TCP syslog listener on 127.0.0.1 (RFC 6587 octet counting): keeps every
// message it is sent.
class SyslogListener {
 public:
  SyslogListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("syslog listener: cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~SyslogListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  void run() {
    std::vector<int> clients;
    std::map<int, std::string> buffers;
    while (!stop_) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      for (int c : clients) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) clients.push_back(c);
      }
      for (std::size_t k = 1; k < fds.size(); ++k) {
        if (!(fds[k].revents & (POLLIN | POLLHUP))) continue;
        char buf[65536];
        const ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[k].fd);
          clients.erase(std::find(clients.begin(), clients.end(), fds[k].fd));
          continue;
        }
        std::string& b = buffers[fds[k].fd];
        b.append(buf, static_cast<std::size_t>(n));
        for (;;) {  // LEN SP MSG
          const std::size_t sp = b.find(' ');
          if (sp == std::string::npos) break;
          const std::size_t len = std::stoul(b.substr(0, sp));
          if (b.size() < sp + 1 + len) break;
          std::lock_guard<std::mutex> lock(mu_);
          messages_.push_back(b.substr(sp + 1, len));
          b.erase(0, sp + 1 + len);
        }
      }
    }
    for (int c : clients) ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> messages_;
};

// seq="N" hash="H" from each message, for one side.
std::vector<std::pair<std::uint64_t, std::string>> exported(const std::vector<std::string>& messages,
                                                            const std::string& side) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  const std::regex re("seq=\"([0-9]+)\" hash=\"([0-9a-f]{64})\"");
  for (const std::string& m : messages) {
    if (m.find("side=\"" + side + "\"") == std::string::npos) continue;
    std::smatch s;
    if (std::regex_search(m, s, re)) out.emplace_back(std::stoull(s[1].str()), s[2].str());
  }
  return out;
}

TEST(AuditExport, ASyslogListenerGetsEveryRecordInOrderWithItsHash) {
  SyslogListener listener;
  TwoSidesOptions options;
  options.audit_extra = "  syslog: \"tcp://127.0.0.1:" + std::to_string(listener.port()) + "\"\n";
  TwoSides sides(options);
  sides.start_both();
  std::vector<Planned> plan;
  for (int i = 0; i < 20; ++i) {
    const std::string content = make_content(static_cast<std::uint64_t>(i), 500);
    plan.push_back({"docs-in", "n" + std::to_string(i) + ".txt", sm3_hex(content)});
    drop_file(sides.inbox("docs-in"), plan.back().path, content);
  }
  ASSERT_TRUE(TwoSides::wait_until([&] { return all_arrived(sides, plan); }, std::chrono::seconds(90)));
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
  for (const char* side : {"outer", "inner"}) {
    const Which w = std::string(side) == "outer" ? Which::outer : Which::inner;
    // The records on disk, seq -> hash.
    std::map<std::uint64_t, std::string> on_disk;
    std::istringstream lines(audit_text(sides.audit_dir(w)));
    const std::regex re("^\\{\"seq\":([0-9]+),.*\"hash\":\"([0-9a-f]{64})\"\\}$");
    for (std::string l; std::getline(lines, l);) {
      std::smatch s;
      if (std::regex_match(l, s, re)) on_disk[std::stoull(s[1].str())] = s[2].str();
    }
    ASSERT_GT(on_disk.size(), 20u);
    std::vector<std::pair<std::uint64_t, std::string>> got;
    // The last records (stop) are sealed at the very end: give the exporter a moment.
    TwoSides::wait_until([&] {
      got = exported(listener.messages(), side);
      return !got.empty() && got.back().first >= on_disk.rbegin()->first - 3;
    }, std::chrono::seconds(10));
    ASSERT_FALSE(got.empty()) << side;
    // In order, from the first record, each with the hash on disk; the
    // exporter stops with its side, so at most the records of its own
    // stop may be missing.
    EXPECT_EQ(got.front().first, 1u) << side;
    for (std::size_t k = 0; k < got.size(); ++k) {
      if (k > 0) {
        EXPECT_GE(got[k].first, got[k - 1].first) << side << ": out of order at " << k;
        EXPECT_LE(got[k].first, got[k - 1].first + 1) << side << ": a gap after seq " << got[k - 1].first;
      }
      EXPECT_EQ(on_disk[got[k].first], got[k].second) << side << ": seq " << got[k].first;
    }
    EXPECT_GE(got.back().first + 3, on_disk.rbegin()->first) << side;
  }
}

TEST(Metrics, BothSidesAreScrapedAndSayWhatCrossed) {
  TwoSides sides;
  sides.start_both();
  std::vector<Planned> plan;
  for (int i = 0; i < 5; ++i) {
    const std::string content = make_content(static_cast<std::uint64_t>(100 + i), 1000);
    plan.push_back({"docs-in", "m" + std::to_string(i) + ".txt", sm3_hex(content)});
    drop_file(sides.inbox("docs-in"), plan.back().path, content);
  }
  drop_file(sides.inbox("docs-in"), "bad.exe", "MZ not allowed\n");
  ASSERT_TRUE(TwoSides::wait_until([&] { return all_arrived(sides, plan); }, std::chrono::seconds(60)));
  auto scrape = [&](Which w) -> std::optional<PromScrape> {
    crypto::Result<HttpReply> r = http_get(static_cast<std::uint16_t>(sides.metrics_port(w)), "/metrics");
    if (!r.ok() || r->status != 200) return std::nullopt;
    EXPECT_THAT(r->headers["content-type"], HasSubstr("text/plain; version=0.0.4"));
    crypto::Result<PromScrape> p = parse_prometheus_text(r->body);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message) << "\n" << r->body;
    if (!p.ok()) return std::nullopt;
    return *p;
  };
  std::optional<PromScrape> outer, inner;
  ASSERT_TRUE(TwoSides::wait_until([&] {
    outer = scrape(Which::outer);
    inner = scrape(Which::inner);
    return outer && inner && inner->value("ferry_objects_total", {{"channel", "docs-in"}, {"verdict", "delivered"}}) == 5;
  }, std::chrono::seconds(30)));
  EXPECT_EQ(outer->family("ferry_objects_total")->type, "counter");
  EXPECT_EQ(outer->value("ferry_objects_total", {{"channel", "docs-in"}, {"direction", "inbound"}, {"verdict", "accepted"}}), 5);
  EXPECT_EQ(outer->value("ferry_objects_total", {{"channel", "docs-in"}, {"direction", "inbound"}, {"verdict", "rejected"}}), 1);
  EXPECT_GT(*outer->value("ferry_object_bytes_total", {{"channel", "docs-in"}, {"verdict", "accepted"}}), 4999);
  EXPECT_EQ(outer->value("ferry_link_up"), 1);
  EXPECT_EQ(inner->value("ferry_link_up"), 1);
  EXPECT_EQ(outer->value("ferry_policy_serial"), 7);
  EXPECT_GT(*outer->value("ferry_audit_records_total"), 10);
  EXPECT_TRUE(outer->value("ferry_audit_storage_fill_ratio"));
  EXPECT_TRUE(outer->value("ferry_audit_last_checkpoint_age_seconds"));
  EXPECT_EQ(outer->value("ferry_worker_crashes_total"), 0);
  EXPECT_EQ(outer->value("ferry_worker_timeouts_total"), 0);
  EXPECT_TRUE(outer->value("ferry_link_handshake_failures_total"));
  EXPECT_TRUE(outer->value("ferry_link_frames_dropped_total", {{"reason", "corrupt"}}));
  EXPECT_TRUE(outer->value("ferry_link_retransmissions_total"));
  EXPECT_TRUE(inner->value("ferry_queue_objects", {{"channel", "docs-in"}, {"state", "received"}}));
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
}

TEST(AuditStorage, AFullTrailWithBlockStopsTakingObjectsAndKeepsTheRest) {
  TwoSidesOptions options;
  options.outer_audit_extra = "  max_size: 64KiB\n";
  TwoSides sides(options);
  sides.start_both();
  for (int i = 0; i < 150; ++i) {
    drop_file(sides.inbox("docs-in"), "f" + std::to_string(i) + ".txt", make_content(static_cast<std::uint64_t>(i), 200));
  }
  ASSERT_TRUE(TwoSides::wait_until([&] { return sides.log(Which::outer).find("\"event\":\"ingest.blocked\"") != std::string::npos; },
                                   std::chrono::seconds(90)))
      << "the outer trail never filled";
  // What was taken crosses; the rest waits in the inbox, taken by nobody.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const std::size_t waiting = count_files(sides.inbox("docs-in"));
  const std::size_t delivered = count_files(sides.outbox("docs-in"));
  EXPECT_GT(waiting, 0u);
  EXPECT_GT(delivered, 0u);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(count_files(sides.inbox("docs-in")), waiting) << "nothing more is taken while the trail is full";
  EXPECT_EQ(delivered + waiting, 150u) << "taken objects are delivered, none lost";
  EXPECT_THAT(audit_text(sides.audit_dir(Which::outer)), HasSubstr("\"event\":\"audit.storage_full\""));
  EXPECT_TRUE(sides.running(Which::outer));
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
  ProcessOutcome v = sides.ctl(Which::outer, {"audit", "verify", sides.audit_dir(Which::outer), "--pub", sides.pub("outer")});
  EXPECT_TRUE(v.succeeded()) << v.out << v.err;
}

TEST(AuditStorage, OverwriteOldestMakesRoomFromExportedSegmentsOnly) {
  SyslogListener listener;
  TwoSidesOptions options;
  options.outer_audit_extra = "  max_size: 64KiB\n  segment_size: 16KiB\n  syslog: \"tcp://127.0.0.1:" +
                              std::to_string(listener.port()) + "\"\n";
  options.on_full = "overwrite_oldest";
  TwoSides sides(options);
  sides.start_both();
  std::vector<Planned> plan;
  for (int i = 0; i < 150; ++i) {
    const std::string content = make_content(static_cast<std::uint64_t>(i), 200);
    plan.push_back({"docs-in", "o" + std::to_string(i) + ".txt", sm3_hex(content)});
    drop_file(sides.inbox("docs-in"), plan.back().path, content);
  }
  ASSERT_TRUE(TwoSides::wait_until([&] { return all_arrived(sides, plan); }, std::chrono::seconds(120)))
      << "objects must keep flowing: exported segments make room";
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
  const std::string trail = audit_text(sides.audit_dir(Which::outer));
  EXPECT_THAT(trail, HasSubstr("\"event\":\"audit.segment_removed\""));
  EXPECT_THAT(trail, HasSubstr("\"why\":\"overwrite_oldest\""));
  // Everything removed had reached the listener first.
  const auto got = exported(listener.messages(), "outer");
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().first, 1u);
  ProcessOutcome v = sides.ctl(Which::outer, {"audit", "verify", sides.audit_dir(Which::outer), "--pub", sides.pub("outer")});
  EXPECT_TRUE(v.succeeded()) << v.out << v.err;
}

}  // namespace
}  // namespace ferry::test

// ferryctl pending / approve / reject / quarantine against a control server
// in this process: what the officer sees, and the exit codes scripts rely on
// (0 done, 1 refused by ferryd, 2 usage or no daemon).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/post.hpp>

#include "ferry/control/server.h"

namespace ferry::control {
namespace {

using crypto::Result;
using crypto::Sm2PrivateKey;
namespace asio = boost::asio;

constexpr char kObject[] = "00112233445566778899aabbccddeeff";

class SideHandler : public Handler {
 public:
  Reply handle(const Request& request, const std::optional<Actor>& actor, const Peer&) override {
    std::lock_guard lock(mutex_);
    ops_.push_back(request.op);
    if (actor) roles_.push_back(actor->role);
    Reply r;
    r.ok = true;
    r.code = "ok";
    const Entry entry = {{"object", kObject},
                         {"channel", "docs-out"},
                         {"name", "季度报告\x1b[2J.txt"},
                         {"type", "text"},
                         {"size", "1234"},
                         {"sm3", std::string(64, 'a')},
                         {"checks", "keywords: clean; pii: masked 2"},
                         {"approvals", "1 of 2: secadmin:ab12cd34"},
                         {"waiting_since", "2026-11-27T10:00:00Z"},
                         {"preview", "第一行\nsecond line\x1b]0;owned\x07"}};
    switch (request.op) {
      case Op::pending: r.entries.push_back(entry); break;
      case Op::quarantine_list: break;
      case Op::show: r.entries.push_back(entry); break;
      default: r.message = std::string(to_string(request.op)) + "d " + request.object; break;
    }
    return r;
  }
  std::vector<Op> ops() {
    std::lock_guard lock(mutex_);
    return ops_;
  }
  std::vector<Role> roles() {
    std::lock_guard lock(mutex_);
    return roles_;
  }

 private:
  std::mutex mutex_;
  std::vector<Op> ops_;
  std::vector<Role> roles_;
};

struct Outcome {
  int status;
  std::string out;
  std::string err;
};

class FerryctlControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferryctl-control-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* name : {"secadmin", "auditor"}) {
      Result<Sm2PrivateKey> k = Sm2PrivateKey::generate();
      ASSERT_TRUE(k.ok());
      const std::string key_path = dir_ + "/" + name + ".key";
      const crypto::SecretBytes pem = k->to_pem();
      std::ofstream(key_path).write(reinterpret_cast<const char*>(pem.data()), static_cast<std::streamsize>(pem.size()));
      ASSERT_EQ(::chmod(key_path.c_str(), 0600), 0);
      std::ofstream(dir_ + "/" + name + ".pub") << k->public_key().to_pem();
    }
    Result<OfficerKeys> keys = OfficerKeys::load({}, {dir_ + "/secadmin.pub"}, {dir_ + "/auditor.pub"});
    ASSERT_TRUE(keys.ok()) << keys.error().message;
    socket_ = dir_ + "/control.sock";
    Result<std::unique_ptr<ControlServer>> s = ControlServer::start(io_, socket_, "outer", std::move(*keys), handler_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (thread_.joinable()) {
      asio::post(io_, [this] {
        server_.reset();
        io_.stop();
      });
      thread_.join();
    }
    std::filesystem::remove_all(dir_);
  }

  static std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

  Outcome ferryctl(const std::vector<std::string>& args) {
    std::string cmd = "timeout 60 " + quote(FERRYCTL);
    for (const std::string& a : args) cmd += " " + quote(a);
    cmd += " >" + quote(dir_ + "/out") + " 2>" + quote(dir_ + "/err");
    const int rc = std::system(cmd.c_str());
    auto slurp = [](const std::string& p) {
      std::ifstream in(p, std::ios::binary);
      return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(dir_ + "/out"), slurp(dir_ + "/err")};
  }

  std::string dir_;
  std::string socket_;
  asio::io_context io_;
  SideHandler handler_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
};

TEST_F(FerryctlControlTest, PendingListsObjectsWithoutTerminalEscapes) {
  Outcome r = ferryctl({"pending", "--socket", socket_});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(kObject), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("docs-out"), std::string::npos);
  EXPECT_NE(r.out.find("1 of 2: secadmin:ab12cd34"), std::string::npos);
  EXPECT_NE(r.out.find("季度报告\\x1b[2J.txt"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
}

TEST_F(FerryctlControlTest, PendingJsonIsAnArrayOfObjects) {
  Outcome r = ferryctl({"pending", "--json", "--socket", socket_});
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.front(), '[');
  EXPECT_NE(r.out.find("\"object\":\"" + std::string(kObject) + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"approvals\":\"1 of 2: secadmin:ab12cd34\""), std::string::npos);
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
}

TEST_F(FerryctlControlTest, ShowPrintsEveryFieldAndThePreview) {
  Outcome r = ferryctl({"pending", "show", kObject, "--socket", socket_});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(std::string(64, 'a')), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keywords: clean; pii: masked 2"), std::string::npos);
  EXPECT_NE(r.out.find("  | 第一行\n  | second line"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.out.find('\x07'), std::string::npos);
  r = ferryctl({"quarantine", "show", kObject, "--socket", socket_});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("sm3:"), std::string::npos) << r.out;
}

TEST_F(FerryctlControlTest, SecadminApprovesAuditorIsRefused) {
  Outcome r = ferryctl({"approve", kObject, "--key", dir_ + "/secadmin.key", "--socket", socket_});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("approved"), std::string::npos) << r.out;
  r = ferryctl({"approve", kObject, "--key", dir_ + "/auditor.key", "--socket", socket_});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("ferryctl approve: refused (wrong_role): approve needs a secadmin key; "), std::string::npos)
      << r.err;
  EXPECT_EQ(handler_.ops(), std::vector<Op>{Op::approve});
  EXPECT_EQ(handler_.roles(), std::vector<Role>{Role::secadmin});
}

TEST_F(FerryctlControlTest, RejectNeedsAReasonAndQuarantineReleaseIsSigned) {
  Outcome r = ferryctl({"reject", kObject, "--key", dir_ + "/secadmin.key", "--socket", socket_});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--reason"), std::string::npos);
  r = ferryctl({"reject", kObject, "--key", dir_ + "/secadmin.key", "--reason", "含涉密标志", "--socket", socket_});
  EXPECT_EQ(r.status, 0) << r.err;
  r = ferryctl({"quarantine", "release", kObject, "--key", dir_ + "/secadmin.key", "--socket", socket_});
  EXPECT_EQ(r.status, 0) << r.err;
  r = ferryctl({"quarantine", "purge", kObject, "--socket", socket_});
  EXPECT_EQ(r.status, 2);  // no --key
  r = ferryctl({"quarantine", "list", "--socket", socket_});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("nothing is quarantined"), std::string::npos);
  EXPECT_EQ(handler_.ops(), (std::vector<Op>{Op::reject, Op::release, Op::quarantine_list}));
}

TEST_F(FerryctlControlTest, UsageAndUnreachableDaemonExitTwo) {
  Outcome r = ferryctl({"approve", "not-an-id", "--key", dir_ + "/secadmin.key", "--socket", socket_});
  EXPECT_EQ(r.status, 2);
  r = ferryctl({"pending", "--socket", dir_ + "/nobody.sock"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot reach ferryd at " + dir_ + "/nobody.sock: is it running?"), std::string::npos) << r.err;
  r = ferryctl({"pending"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(handler_.ops().empty());
}

}  // namespace
}  // namespace ferry::control

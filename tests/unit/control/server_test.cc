// The control server on a real socket in a temp dir: what reaches the
// side's handler is only what the officers' rules allow, and whatever a
// client sends, the server goes on serving the next one.
#include "ferry/control/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "crypto/bytes.h"
#include "ferry/control/client.h"

namespace ferry::control {
namespace {

using crypto::Result;
using crypto::Sm2PrivateKey;
namespace asio = boost::asio;

constexpr char kObject[] = "00112233445566778899aabbccddeeff";

struct Call {
  Request request;
  std::optional<Actor> actor;
  Peer peer;
};

// Records what it was handed and answers as a side with one pending object.
class RecordingHandler : public Handler {
 public:
  Reply handle(const Request& request, const std::optional<Actor>& actor, const Peer& peer) override {
    std::lock_guard lock(mutex_);
    calls_.push_back({request, actor, peer});
    Reply r;
    r.ok = true;
    r.code = "ok";
    r.message = std::string(to_string(request.op)) + " done";
    if (request.op == Op::pending) {
      r.entries.push_back({{"object", kObject}, {"name", "季度报告\n(终稿).txt"}, {"approvals", "0 of 2"}});
    }
    return r;
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::vector<Call> calls_;
};

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-control-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directory(dir_ + "/keys");
    for (const char* name : {"sysadmin", "secadmin", "auditor", "stranger"}) {
      Result<Sm2PrivateKey> k = Sm2PrivateKey::generate();
      ASSERT_TRUE(k.ok());
      std::ofstream(dir_ + "/keys/" + name + ".pub") << k->public_key().to_pem();
      keys_.emplace(name, std::move(*k));
    }
    socket_ = dir_ + "/control.sock";
  }

  void TearDown() override {
    stop_server();
    std::filesystem::remove_all(dir_);
  }

  std::string pub(const char* name) const { return dir_ + "/keys/" + name + ".pub"; }
  const Sm2PrivateKey* key(const char* name) const { return &keys_.at(name); }

  void start_server(ServerLimits limits = {}) {
    Result<OfficerKeys> officers = OfficerKeys::load({pub("sysadmin")}, {pub("secadmin")}, {pub("auditor")});
    ASSERT_TRUE(officers.ok()) << officers.error().message;
    Result<std::unique_ptr<ControlServer>> s =
        ControlServer::start(io_, socket_, "inner", std::move(*officers), handler_, "", limits);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }

  void stop_server() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      server_.reset();
      io_.stop();
    });
    thread_.join();
  }

  ControlClient connect() {
    Result<ControlClient> c = ControlClient::connect(socket_, std::chrono::seconds(10));
    EXPECT_TRUE(c.ok()) << c.error().message;
    return std::move(c).value();
  }

  // A request signed by `signer` answering `challenge`, for tests that then
  // change or resend its exact bytes.
  Request signed_request(const std::string& challenge, Op op, const char* signer,
                         const std::string& side = "inner") {
    Request q;
    q.op = op;
    q.object = kObject;
    q.side = side;
    q.challenge = challenge;
    q.issued_ms = 1767225600000;
    q.key = policy::fingerprint(key(signer)->public_key());
    Result<crypto::Bytes> sig = crypto::sm2_sign(*key(signer), crypto::as_bytes(signed_text(q)));
    EXPECT_TRUE(sig.ok());
    q.signature = crypto::to_hex(*sig);
    return q;
  }

  static Reply exchange(ControlClient& c, const std::string& body) {
    Result<std::string> raw = c.exchange(body);
    EXPECT_TRUE(raw.ok()) << raw.error().message;
    if (!raw.ok()) return {};
    Result<Reply> r = decode_reply(*raw);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : Reply{};
  }

  Request approve() const {
    Request q;
    q.op = Op::approve;
    q.object = kObject;
    return q;
  }

  std::string dir_;
  std::string socket_;
  std::map<std::string, Sm2PrivateKey> keys_;
  asio::io_context io_;
  RecordingHandler handler_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
};

TEST_F(ControlServerTest, SocketIsOwnerOnly) {
  start_server();
  struct stat st;
  ASSERT_EQ(::lstat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ControlServerTest, UnsignedReadIsServed) {
  start_server();
  ControlClient c = connect();
  EXPECT_EQ(c.hello().side, "inner");
  EXPECT_EQ(c.hello().challenge.size(), 64u);
  Request q;
  q.op = Op::pending;
  Result<Reply> r = c.call(q, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->ok);
  ASSERT_EQ(r->entries.size(), 1u);
  EXPECT_EQ(r->entries[0][1].second, "季度报告\n(终稿).txt");
  const std::vector<Call> calls = handler_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].actor.has_value());
  EXPECT_EQ(calls[0].peer.uid, ::getuid());
  EXPECT_EQ(calls[0].peer.pid, ::getpid());
}

TEST_F(ControlServerTest, SignedReadNamesTheOfficer) {
  start_server();
  ControlClient c = connect();
  Request q;
  q.op = Op::quarantine_list;
  Result<Reply> r = c.call(q, key("auditor"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << r->message;
  const std::vector<Call> calls = handler_.calls();
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_TRUE(calls[0].actor.has_value());
  EXPECT_EQ(calls[0].actor->role, Role::auditor);
}

TEST_F(ControlServerTest, SecadminMayApproveTwiceOnOneConnection) {
  start_server();
  ControlClient c = connect();
  for (int i = 0; i < 2; ++i) {
    Result<Reply> r = c.call(approve(), key("secadmin"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->ok) << r->code << ": " << r->message;
    EXPECT_EQ(r->code, "ok");
  }
  const std::vector<Call> calls = handler_.calls();
  ASSERT_EQ(calls.size(), 2u);
  ASSERT_TRUE(calls[0].actor.has_value());
  EXPECT_EQ(calls[0].actor->role, Role::secadmin);
  EXPECT_EQ(calls[0].actor->fingerprint, policy::fingerprint(key("secadmin")->public_key()));
  EXPECT_EQ(calls[0].actor->key_name, pub("secadmin"));
  EXPECT_EQ(calls[0].request.object, kObject);
  EXPECT_NE(calls[0].request.challenge, calls[1].request.challenge);
}

TEST_F(ControlServerTest, AuditorAndSysadminCannotApproveOrPurge) {
  start_server();
  ControlClient c = connect();
  for (const char* who : {"auditor", "sysadmin"}) {
    for (Op op : {Op::approve, Op::purge}) {
      Request q = approve();
      q.op = op;
      Result<Reply> r = c.call(q, key(who));
      ASSERT_TRUE(r.ok());
      EXPECT_FALSE(r->ok);
      EXPECT_EQ(r->code, "wrong_role");
      EXPECT_NE(r->message.find(std::string(to_string(op)) + " needs a secadmin key"), std::string::npos) << r->message;
      EXPECT_NE(r->message.find(pub(who)), std::string::npos) << r->message;
    }
  }
  Request q = approve();
  Result<Reply> r = c.call(q, key("auditor"));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->message.find("auditor.pub is an auditor's key"), std::string::npos) << r->message;
  EXPECT_TRUE(handler_.calls().empty());
}

TEST_F(ControlServerTest, UnsignedChangeIsRefused) {
  start_server();
  ControlClient c = connect();
  Result<Reply> r = c.call(approve(), nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, "unsigned");
  EXPECT_TRUE(handler_.calls().empty());
}

TEST_F(ControlServerTest, KeyOfNoOfficerIsUnknown) {
  start_server();
  ControlClient c = connect();
  Result<Reply> r = c.call(approve(), key("stranger"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, "unknown_key");
  EXPECT_NE(r->message.find("not an officer's key"), std::string::npos);
  EXPECT_TRUE(handler_.calls().empty());
}

TEST_F(ControlServerTest, FieldChangedAfterSigningIsBadSignature) {
  start_server();
  ControlClient c = connect();
  Request q = signed_request(c.hello().challenge, Op::approve, "secadmin");
  q.object = "ffeeddccbbaa99887766554433221100";
  EXPECT_EQ(exchange(c, encode(q)).code, "bad_signature");
  q = signed_request(c.hello().challenge, Op::reject, "secadmin");
  q.reason = "x";  // reject with a reason put in after signing
  EXPECT_EQ(exchange(c, encode(q)).code, "bad_signature");
  q = signed_request(c.hello().challenge, Op::approve, "secadmin");
  q.op = Op::purge;
  EXPECT_EQ(exchange(c, encode(q)).code, "bad_signature");
  EXPECT_TRUE(handler_.calls().empty());
}

TEST_F(ControlServerTest, ReplayedRequestIsRefusedOnAnyConnection) {
  start_server();
  ControlClient first = connect();
  const std::string body = encode(signed_request(first.hello().challenge, Op::approve, "secadmin"));
  Reply r = exchange(first, body);
  EXPECT_TRUE(r.ok) << r.message;
  r = exchange(first, body);
  EXPECT_EQ(r.code, "replayed");
  EXPECT_NE(r.message.find("already used"), std::string::npos) << r.message;
  ControlClient second = connect();
  r = exchange(second, body);
  EXPECT_EQ(r.code, "replayed");
  EXPECT_NE(r.message.find("already used: a replayed request"), std::string::npos) << r.message;
  EXPECT_EQ(handler_.calls().size(), 1u);
  // A challenge issued to one connection does not serve another.
  ControlClient third = connect();
  Request q = signed_request(third.hello().challenge, Op::approve, "secadmin");
  r = exchange(second, encode(q));
  EXPECT_EQ(r.code, "replayed");
  EXPECT_NE(r.message.find("never issued on this connection"), std::string::npos) << r.message;
  EXPECT_EQ(handler_.calls().size(), 1u);
}

TEST_F(ControlServerTest, RequestForTheOtherSideIsRefused) {
  start_server();
  ControlClient c = connect();
  Request q = signed_request(c.hello().challenge, Op::approve, "secadmin", "outer");
  Reply r = exchange(c, encode(q));
  EXPECT_EQ(r.code, "wrong_side");
  EXPECT_TRUE(handler_.calls().empty());
}

TEST_F(ControlServerTest, MissingObjectOrReasonIsBadRequest) {
  start_server();
  ControlClient c = connect();
  Request q;
  q.op = Op::approve;
  Result<Reply> r = c.call(q, key("secadmin"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, "bad_request");
  q = approve();
  q.op = Op::reject;
  r = c.call(q, key("secadmin"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, "bad_request");
  EXPECT_NE(r->message.find("reason"), std::string::npos);
  q.reason = "含个人信息";
  r = c.call(q, key("secadmin"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << r->message;
  ASSERT_EQ(handler_.calls().size(), 1u);
  EXPECT_EQ(handler_.calls()[0].request.reason, "含个人信息");
}

TEST_F(ControlServerTest, GarbageGetsBadRequestAndTheServerGoesOn) {
  start_server();
  ControlClient c = connect();
  EXPECT_EQ(exchange(c, "GET / HTTP/1.1\r\n\r\n").code, "bad_request");
  EXPECT_EQ(exchange(c, "").code, "bad_request");
  Request q;
  q.op = Op::pending;
  Result<Reply> r = c.call(q, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok);
  ControlClient other = connect();
  r = other.call(approve(), key("secadmin"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok);
}

TEST_F(ControlServerTest, OversizedFrameClosesOnlyThatConnection) {
  start_server();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);  // the Hello
  const unsigned char header[4] = {0x00, 0x10, 0x00, 0x01};  // 1 MiB + 1
  ASSERT_EQ(::send(fd, header, 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), 0);  // closed, no answer
  ::close(fd);
  ControlClient c = connect();
  Request q;
  q.op = Op::pending;
  Result<Reply> r = c.call(q, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->ok);
}

TEST_F(ControlServerTest, ConnectionsBeyondTheLimitAreTurnedAway) {
  ServerLimits limits;
  limits.max_connections = 2;
  start_server(limits);
  ControlClient a = connect();
  ControlClient b = connect();
  Result<ControlClient> c = ControlClient::connect(socket_, std::chrono::seconds(5));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("busy"), std::string::npos) << c.error().message;
  Request q;
  q.op = Op::pending;
  EXPECT_TRUE(a.call(q, nullptr).ok());
}

TEST_F(ControlServerTest, IdleConnectionIsClosed) {
  ServerLimits limits;
  limits.idle_timeout = std::chrono::milliseconds(200);
  start_server(limits);
  ControlClient c = connect();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  Request q;
  q.op = Op::pending;
  EXPECT_FALSE(c.call(q, nullptr).ok());
  ControlClient d = connect();
  EXPECT_TRUE(d.call(q, nullptr).ok());
}

TEST_F(ControlServerTest, StaleSocketIsReplacedLiveOrForeignPathRefused) {
  start_server();
  // A second server on the same, live socket.
  RecordingHandler other;
  Result<OfficerKeys> officers = OfficerKeys::load({}, {pub("secadmin")}, {});
  ASSERT_TRUE(officers.ok());
  asio::io_context io2;
  Result<std::unique_ptr<ControlServer>> s = ControlServer::start(io2, socket_, "inner", *officers, other);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("in use"), std::string::npos) << s.error().message;
  stop_server();
  // Left behind by a crash: a socket file nobody listens on.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  s = ControlServer::start(io2, socket_, "inner", *officers, other);
  ASSERT_TRUE(s.ok()) << s.error().message;
  s->reset();
  // A regular file is never removed.
  std::ofstream(dir_ + "/not-a-socket") << "data";
  s = ControlServer::start(io2, dir_ + "/not-a-socket", "inner", *officers, other);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/not-a-socket"));
}

TEST_F(ControlServerTest, StopClosesConnectionsAndRemovesTheSocket) {
  start_server();
  ControlClient c = connect();
  stop_server();
  EXPECT_FALSE(std::filesystem::exists(socket_));
  Request q;
  q.op = Op::pending;
  EXPECT_FALSE(c.call(q, nullptr).ok());
  EXPECT_TRUE(handler_.calls().empty());
}

TEST_F(ControlServerTest, OneKeyInTwoRolesIsRefused) {
  Result<OfficerKeys> officers = OfficerKeys::load({pub("secadmin")}, {pub("secadmin")}, {});
  ASSERT_FALSE(officers.ok());
  EXPECT_NE(officers.error().message.find("三员分立"), std::string::npos);
  Result<OfficerKeys> missing = OfficerKeys::load({}, {dir_ + "/keys/none.pub"}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("none.pub"), std::string::npos);
}

TEST_F(ControlServerTest, NoDaemonIsNamedInTheError) {
  Result<ControlClient> c = ControlClient::connect(socket_, std::chrono::seconds(1));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("cannot reach ferryd at " + socket_ + ": is it running?"), std::string::npos);
}

}  // namespace
}  // namespace ferry::control

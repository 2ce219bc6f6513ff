#include "ferry/control/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <unordered_set>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <openssl/rand.h>

#include "crypto/bytes.h"
#include "crypto/sm2.h"
#include "ferry/fs/fd.h"

namespace ferry::control {

namespace asio = boost::asio;
using crypto::Errc;
using crypto::make_error;
using crypto::Result;
using Socket = asio::local::stream_protocol::socket;

std::string_view to_string(Role role) {
  switch (role) {
    case Role::sysadmin: return "sysadmin";
    case Role::secadmin: return "secadmin";
    case Role::auditor: return "auditor";
  }
  assert(false);
  return "?";
}

Handler::~Handler() = default;
void Handler::refused(const Request&, const std::optional<Actor>&, const Reply&, const Peer&) {}

namespace {

std::string role_phrase(Role role) {
  switch (role) {
    case Role::sysadmin: return "a sysadmin's key";
    case Role::secadmin: return "a secadmin's key";
    case Role::auditor: return "an auditor's key";
  }
  assert(false);
  return "?";
}

Result<std::string> random_challenge() {
  std::uint8_t bytes[kChallengeBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return make_error(Errc::rng, "the random generator failed to produce a challenge");
  }
  return crypto::to_hex(bytes);
}

Reply refusal(std::string code, std::string message) {
  Reply r;
  r.ok = false;
  r.code = std::move(code);
  r.message = std::move(message);
  return r;
}

struct Officer {
  Role role;
  std::string name;
  crypto::Sm2PublicKey key;
};

class Connection;

}  // namespace

struct ControlServer::State : std::enable_shared_from_this<ControlServer::State> {
  State(asio::io_context& io_in, std::string path_in, std::string side_in, Handler& handler_in,
        std::string fingerprint_in, ServerLimits limits_in)
      : io(io_in),
        acceptor(io_in),
        retry(io_in),
        path(std::move(path_in)),
        side(std::move(side_in)),
        handler(&handler_in),
        fingerprint(std::move(fingerprint_in)),
        limits(limits_in) {}

  asio::io_context& io;
  asio::local::stream_protocol::acceptor acceptor;
  asio::steady_timer retry;
  std::string path;
  std::string side;
  Handler* handler;
  std::string fingerprint;
  ServerLimits limits;
  std::map<std::string, Officer, std::less<>> officers;  // by fingerprint
  std::set<std::shared_ptr<Connection>> connections;
  std::unordered_set<std::string> used;
  std::deque<std::string> used_order;
  bool stopped = false;

  void accept();
  void remember_used(const std::string& challenge) {
    if (limits.remembered_challenges == 0) return;
    if (used.insert(challenge).second) used_order.push_back(challenge);
    while (used_order.size() > limits.remembered_challenges) {
      used.erase(used_order.front());
      used_order.pop_front();
    }
  }
  // A refusal, or nothing when the request may go to the handler (with
  // `actor` set when it was signed).
  std::optional<Reply> authenticate(const Request& q, std::string& challenge, std::optional<Actor>& actor);
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ControlServer::State> state, Socket socket)
      : state_(std::move(state)), socket_(std::move(socket)), timer_(state_->io) {}

  void start() {
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      peer_ = Peer{cred.uid, cred.gid, cred.pid};
    }
    Result<std::string> c = random_challenge();
    if (!c.ok()) {
      close();
      return;
    }
    challenge_ = std::move(*c);
    Hello hello{state_->side, state_->fingerprint, challenge_};
    send(frame(encode(hello)));
  }

  // Said to a client beyond the connection limit instead of a Hello.
  void turn_away() {
    Reply r = refusal("busy", "ferryd already serves " + std::to_string(state_->limits.max_connections) +
                                  " control connections; try again shortly");
    out_ = frame(encode(r));
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_), [self](const boost::system::error_code&, std::size_t) {
      self->close();
    });
    arm_timer();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
    state_->connections.erase(shared_from_this());
  }

 private:
  void arm_timer() {
    timer_.expires_after(state_->limits.idle_timeout);
    auto self = shared_from_this();
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec != asio::error::operation_aborted) self->close();
    });
  }

  void send(std::string bytes) {
    out_ = std::move(bytes);
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_), [self](const boost::system::error_code& ec, std::size_t) {
      if (ec || self->closed_ || self->state_->stopped) {
        self->close();
        return;
      }
      self->read_header();
    });
  }

  void read_header() {
    arm_timer();
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(header_), [self](const boost::system::error_code& ec, std::size_t) {
      if (ec || self->closed_ || self->state_->stopped) {
        self->close();
        return;
      }
      Result<std::size_t> size = frame_body_size(self->header_);
      // A length beyond the limit leaves no way to find the next frame.
      if (!size.ok()) {
        self->close();
        return;
      }
      self->body_.assign(*size, '\0');
      asio::async_read(self->socket_, asio::buffer(self->body_),
                       [self](const boost::system::error_code& ec2, std::size_t) {
                         if (ec2 || self->closed_ || self->state_->stopped) {
                           self->close();
                           return;
                         }
                         self->answer();
                       });
    });
  }

  void answer() {
    Reply reply;
    Result<Request> q = decode_request(body_);
    body_.clear();
    if (!q.ok()) {
      reply = refusal("bad_request", "not a control request: " + q.error().message);
    } else {
      std::optional<Actor> actor;
      std::optional<Reply> refused = state_->authenticate(*q, challenge_, actor);
      if (refused) {
        reply = std::move(*refused);
        state_->handler->refused(*q, actor, reply, peer_);
      } else {
        reply = state_->handler->handle(*q, actor, peer_);
        if (reply.code.empty()) reply.code = reply.ok ? "ok" : "refused";
      }
    }
    if (challenge_.empty()) {
      Result<std::string> c = random_challenge();
      if (!c.ok()) {
        close();
        return;
      }
      challenge_ = std::move(*c);
    }
    reply.next_challenge = challenge_;
    std::string body = encode(reply);
    if (body.size() > kMaxBody) {
      Reply too_big = refusal("internal", "the answer is larger than the control protocol's 1 MiB limit");
      too_big.next_challenge = challenge_;
      body = encode(too_big);
    }
    send(frame(body));
  }

  std::shared_ptr<ControlServer::State> state_;
  Socket socket_;
  asio::steady_timer timer_;
  Peer peer_;
  std::string challenge_;  // the one outstanding; empty once used
  std::uint8_t header_[kFrameHeaderSize] = {};
  std::string body_;
  std::string out_;
  bool closed_ = false;
};

}  // namespace

std::optional<Reply> ControlServer::State::authenticate(const Request& q, std::string& challenge,
                                                        std::optional<Actor>& actor) {
  const std::string op(to_string(q.op));
  if (needs_object(q.op) && q.object.empty()) return refusal("bad_request", op + " needs an object id");
  if (!needs_object(q.op) && !q.object.empty()) return refusal("bad_request", op + " takes no object id");
  if (q.op == Op::reject && q.reason.empty()) return refusal("bad_request", "reject needs a reason");
  if (!q.is_signed()) {
    if (is_change(q.op)) {
      return refusal("unsigned", op + " changes what the side holds and must be signed with a secadmin key");
    }
    return std::nullopt;
  }
  if (q.key.empty() || q.signature.empty()) {
    return refusal("bad_request", "a signed request needs both a key fingerprint and a signature");
  }
  auto officer = officers.find(q.key);
  if (officer == officers.end()) {
    return refusal("unknown_key", "this key is not an officer's key in the side's config (fingerprint " +
                                      q.key.substr(0, 16) + ")");
  }
  const std::optional<crypto::Bytes> signature = crypto::from_hex(q.signature);
  const std::string text = signed_text(q);
  if (!signature || !crypto::sm2_verify(officer->second.key, crypto::as_bytes(text), *signature)) {
    return refusal("bad_signature", "the signature does not verify with " + officer->second.name +
                                        " over this request: it was altered after signing or signed with another key");
  }
  // A signature proves who, the challenge proves when: only the one this
  // connection holds, once. Used ones are remembered across connections so a
  // captured request replayed elsewhere is named for what it is.
  if (challenge.empty() || q.challenge != challenge) {
    if (used.contains(q.challenge)) {
      return refusal("replayed", "this request answers a challenge that was already used: a replayed request");
    }
    return refusal("replayed",
                   "this request answers a challenge that was already used or never issued on this connection: "
                   "a replayed or stale request");
  }
  remember_used(challenge);
  challenge.clear();
  if (q.side != side) {
    return refusal("wrong_side", "this request was signed for the '" + q.side + "' side; this is the '" + side +
                                     "' side");
  }
  if (is_change(q.op) && officer->second.role != Role::secadmin) {
    return refusal("wrong_role", op + " needs a secadmin key; " + officer->second.name + " is " +
                                     role_phrase(officer->second.role));
  }
  actor = Actor{officer->second.role, q.key, officer->second.name};
  return std::nullopt;
}

void ControlServer::State::accept() {
  auto self = shared_from_this();
  acceptor.async_accept([self](const boost::system::error_code& ec, Socket socket) {
    if (self->stopped || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors and the like: wait a little rather than spin.
      self->retry.expires_after(std::chrono::milliseconds(100));
      self->retry.async_wait([self](const boost::system::error_code& ec2) {
        if (!ec2 && !self->stopped) self->accept();
      });
      return;
    }
    auto c = std::make_shared<Connection>(self, std::move(socket));
    const bool full = self->connections.size() >= self->limits.max_connections;
    self->connections.insert(c);
    if (full) {
      c->turn_away();
    } else {
      c->start();
    }
    self->accept();
  });
}

Result<OfficerKeys> OfficerKeys::load(const std::vector<std::string>& sysadmin_paths,
                                      const std::vector<std::string>& secadmin_paths,
                                      const std::vector<std::string>& auditor_paths) {
  OfficerKeys keys;
  std::map<std::string, std::pair<Role, std::string>> seen;
  const std::pair<Role, const std::vector<std::string>*> lists[] = {
      {Role::sysadmin, &sysadmin_paths}, {Role::secadmin, &secadmin_paths}, {Role::auditor, &auditor_paths}};
  for (const auto& [role, paths] : lists) {
    for (const std::string& path : *paths) {
      Result<policy::Signer> signer = policy::load_signer(path);
      if (!signer.ok()) return signer.error();
      const std::string fp = policy::fingerprint(signer->key);
      auto [it, fresh] = seen.emplace(fp, std::pair{role, path});
      if (!fresh && it->second.first != role) {
        return make_error(Errc::bad_key, path + " is the same key as " + it->second.second + ", but one is a " +
                                             std::string(to_string(role)) + "'s and the other a " +
                                             std::string(to_string(it->second.first)) +
                                             "'s: 三员分立 needs each role to hold its own keys");
      }
      std::vector<policy::Signer>& list =
          role == Role::sysadmin ? keys.sysadmin : role == Role::secadmin ? keys.secadmin : keys.auditor;
      list.push_back(std::move(*signer));
    }
  }
  return keys;
}

namespace {

Result<fs::Fd> bind_socket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return make_error(Errc::invalid_argument, "control socket path '" + path + "' is empty or longer than " +
                                                  std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);

  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(Errc::io, path + " exists and is not a socket; refusing to replace it");
    }
    // A socket someone still answers on belongs to a running ferryd.
    fs::Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.valid() && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len) == 0) {
      return make_error(Errc::io, path + " is in use: another ferryd is serving it");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return make_error(Errc::io, path + ": cannot remove the stale socket: " + std::strerror(errno));
    }
  }
  fs::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return make_error(Errc::io, std::string("cannot create a UNIX socket: ") + std::strerror(errno));
  // Linux creates the socket file with the socket inode's mode (less the
  // umask), so setting it first leaves no moment at which the file is open
  // to others; the chmod after bind covers kernels that do not.
  if (::fchmod(fd.get(), 0600) != 0) {
    return make_error(Errc::io, std::string("cannot set the control socket's mode: ") + std::strerror(errno));
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    return make_error(Errc::io, path + ": cannot bind: " + std::strerror(errno));
  }
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), 16) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(path.c_str());
    return make_error(Errc::io, path + ": " + why);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::start(asio::io_context& io, std::string socket_path,
                                                            std::string side, OfficerKeys officers,
                                                            Handler& handler, std::string daemon_fingerprint,
                                                            ServerLimits limits) {
  assert(limits.max_connections > 0);
  // Both go into every Hello; the client refuses a Hello that is not in the
  // protocol's form, so a wrong value here is our bug.
  assert(!side.empty() && side.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos);
  assert(daemon_fingerprint.find_first_not_of("0123456789abcdef") == std::string::npos);
  auto state = std::make_shared<State>(io, std::move(socket_path), std::move(side), handler,
                                       std::move(daemon_fingerprint), limits);
  const std::pair<Role, std::vector<policy::Signer>*> lists[] = {
      {Role::sysadmin, &officers.sysadmin}, {Role::secadmin, &officers.secadmin}, {Role::auditor, &officers.auditor}};
  for (const auto& [role, signers] : lists) {
    for (policy::Signer& s : *signers) {
      const std::string fp = policy::fingerprint(s.key);
      auto [it, fresh] = state->officers.emplace(fp, Officer{role, s.name, s.key});
      if (!fresh && it->second.role != role) {
        return make_error(Errc::bad_key, s.name + " is the same key as " + it->second.name +
                                             " in another role: 三员分立 needs each role to hold its own keys");
      }
    }
  }
  Result<fs::Fd> fd = bind_socket(state->path);
  if (!fd.ok()) return fd.error();
  boost::system::error_code ec;
  state->acceptor.assign(asio::local::stream_protocol(), fd->get(), ec);
  if (ec) {
    ::unlink(state->path.c_str());
    return make_error(Errc::io, state->path + ": " + ec.message());
  }
  fd->release();
  state->accept();
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(state)));
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
  // close() erases from the set, so work on a copy.
  const auto connections = state_->connections;
  for (const auto& c : connections) c->close();
  ::unlink(state_->path.c_str());
}

const std::string& ControlServer::socket_path() const { return state_->path; }

}  // namespace ferry::control

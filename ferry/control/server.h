// The daemon's end of the control socket: it authenticates each officer's
// request before the side acts on it (三员分立), so the handler behind it
// only ever sees requests that are well-formed and, for changes, signed by
// a key of a role that may make them.
//
//   reads    (pending, quarantine-list, show): unsigned is fine (the socket's
//            0600 mode is the gate), or signed by any officer;
//   changes  (approve, reject, release, purge): signed by a secadmin key,
//            over signed_text(), naming this side and answering the challenge
//            this connection was given (each challenge answers one request).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "crypto/result.h"
#include "ferry/control/protocol.h"
#include "policy/signature.h"

namespace ferry::control {

enum class Role { sysadmin, secadmin, auditor };
std::string_view to_string(Role role);

// An officer whose signature on the request verified.
struct Actor {
  Role role;
  std::string fingerprint;  // SM3 of the officer's public key, hex
  std::string key_name;     // the public key file named in the side's config
};

// Who is at the other end of the socket, from SO_PEERCRED (for the audit
// record; the kernel vouches for it, the client cannot choose it).
struct Peer {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
};

// The officers' public keys by role, as the side's config lists them.
struct OfficerKeys {
  std::vector<policy::Signer> sysadmin;
  std::vector<policy::Signer> secadmin;
  std::vector<policy::Signer> auditor;

  // Reads every key file; errors name the file. One key in two roles is
  // refused: 三员分立 means no one holds two roles' keys.
  static crypto::Result<OfficerKeys> load(const std::vector<std::string>& sysadmin_paths,
                                          const std::vector<std::string>& secadmin_paths,
                                          const std::vector<std::string>& auditor_paths);
};

// What the side does with an authenticated request. Called on the
// io_context's thread. The server sets Reply::next_challenge itself; the
// reply's code and entry keys must be tokens ([a-z0-9_.-]+), an empty code
// becomes "ok" or "refused" by Reply::ok.
class Handler {
 public:
  virtual ~Handler();
  // `actor` is set when the request was signed (always, for changes).
  virtual Reply handle(const Request& request, const std::optional<Actor>& actor, const Peer& peer) = 0;
  // A request the server refused before handle() (unsigned change, unknown
  // key, bad signature, replay, wrong side or role), for the side to audit:
  // failed attempts are records too (CC FAU_GEN.1). `actor` is set when the
  // signature verified (wrong side or role). Does nothing by default.
  virtual void refused(const Request& request, const std::optional<Actor>& actor, const Reply& reply,
                       const Peer& peer);
};

struct ServerLimits {
  std::size_t max_connections = 8;
  std::chrono::milliseconds idle_timeout{30'000};
  // Used challenges remembered across connections, so that a replay on a new
  // connection is named as one.
  std::size_t remembered_challenges = 4096;
};

class ControlServer {
 public:
  // Binds `socket_path` mode 0600 (a stale socket there is removed; a live
  // one, or anything that is not a socket, is an error) and starts
  // accepting on `io`. The server must be stopped or destroyed on `io`'s
  // thread (or while `io` is not running); `handler` must outlive it.
  static crypto::Result<std::unique_ptr<ControlServer>> start(boost::asio::io_context& io, std::string socket_path,
                                                              std::string side, OfficerKeys officers,
                                                              Handler& handler, std::string daemon_fingerprint = {},
                                                              ServerLimits limits = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Closes the listener and every connection and removes the socket file.
  void stop();

  const std::string& socket_path() const;

  struct State;

 private:
  explicit ControlServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ferry::control

// The running side's status, written by ferryd once a second to
// <spool>/status.json (atomically) and read by `ferryctl status`.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace ferry::daemon {

inline constexpr const char* kStatusFileName = "status.json";
// The officers' control socket (ferry/control), in the spool directory.
inline constexpr const char* kControlSocketName = "control.sock";
// ferryd rewrites the file every second; older than this, it is not running.
inline constexpr int kStatusStaleSeconds = 5;

struct QueueDepth {
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
};

struct ChannelStatus {
  std::string role;  // "source" (we send) or "deliver" (we receive)
  std::map<std::string, QueueDepth> states;  // spool state name -> depth
};

struct StatusReport {
  std::string side;
  long pid = 0;
  std::int64_t started_ms = 0;
  std::int64_t updated_ms = 0;
  std::uint64_t policy_serial = 0;
  std::string link_state;  // down | handshaking | up
  std::string session_id;  // hex, empty when down
  std::int64_t session_age_ms = 0;
  std::string own_fingerprint;
  std::string peer_fingerprint;
  std::string peer_policy_serial;  // empty when not known yet
  std::map<std::string, std::uint64_t> counters;  // frames, drops by reason, objects, ...
  std::map<std::string, ChannelStatus> channels;
  std::string last_error;
};

std::string to_json(const StatusReport& status);

}  // namespace ferry::daemon

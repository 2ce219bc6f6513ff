#include "ferry/daemon/status.h"

#include "ferry/audit/json.h"

namespace ferry::daemon {

std::string to_json(const StatusReport& s) {
  using audit::json_string;
  std::string o = "{";
  o += "\"side\":" + json_string(s.side);
  o += ",\"pid\":" + std::to_string(s.pid);
  o += ",\"started_ms\":" + std::to_string(s.started_ms);
  o += ",\"updated_ms\":" + std::to_string(s.updated_ms);
  o += ",\"policy_serial\":" + std::to_string(s.policy_serial);
  o += ",\"link\":{\"state\":" + json_string(s.link_state) + ",\"session_id\":" + json_string(s.session_id) +
       ",\"session_age_ms\":" + std::to_string(s.session_age_ms) +
       ",\"own_fingerprint\":" + json_string(s.own_fingerprint) +
       ",\"peer_fingerprint\":" + json_string(s.peer_fingerprint) +
       ",\"peer_policy_serial\":" + (s.peer_policy_serial.empty() ? "null" : s.peer_policy_serial) + "}";
  o += ",\"counters\":{";
  bool first = true;
  for (const auto& [k, v] : s.counters) {
    o += (first ? "" : ",") + json_string(k) + ":" + std::to_string(v);
    first = false;
  }
  o += "},\"channels\":{";
  first = true;
  for (const auto& [name, ch] : s.channels) {
    o += (first ? "" : ",") + json_string(name) + ":{\"role\":" + json_string(ch.role) + ",\"queues\":{";
    bool f2 = true;
    for (const auto& [state, d] : ch.states) {
      o += (f2 ? "" : ",") + json_string(state) + ":{\"objects\":" + std::to_string(d.objects) +
           ",\"bytes\":" + std::to_string(d.bytes) + "}";
      f2 = false;
    }
    o += "}}";
    first = false;
  }
  o += "},\"last_error\":" + json_string(s.last_error) + "}";
  return o;
}

}  // namespace ferry::daemon

// ferryctl --config FILE status: what the side named by FILE is doing, from
// the status file ferryd rewrites every second.
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include <cstdio>
#include <ctime>

#include "ferry/config/config.h"
#include "ferry/ctl/cli.h"
#include "ferry/daemon/status.h"
#include "ferry/fs/durable_file.h"

namespace ferry::ctl {

namespace {
constexpr char kHelp[] =
    "usage: ferryctl --config FILE status [--json]\n"
    "\n"
    "Shows the side that FILE configures: link state, peer key fingerprint,\n"
    "session age, policy serials, per-channel queue depth and bytes, frame\n"
    "counters and the last error. --json prints ferryd's status document.\n"
    "Exit 0 when the side is running, 1 when it is not (no fresh status).\n";

// Pulls one scalar out of the status document ferryd wrote. The document is
// ours and flat enough that a full JSON parser would add nothing here.
std::string field(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  std::size_t p = json.find(needle);
  if (p == std::string::npos) return "";
  p += needle.size();
  if (json[p] == '"') {
    std::size_t e = json.find('"', p + 1);
    while (e != std::string::npos && json[e - 1] == '\\') e = json.find('"', e + 1);
    return e == std::string::npos ? "" : json.substr(p + 1, e - p - 1);
  }
  std::size_t e = json.find_first_of(",}", p);
  return json.substr(p, e - p);
}

std::string fmt_age(long long ms) {
  long long s = ms / 1000;
  char buf[64];
  if (s < 120) std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 7200) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s / 60) % 60);
  return buf;
}
}  // namespace

int cmd_status(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {{"json", false}};
  crypto::Result<ParsedArgs> parsed = parse_options(args, kSpecs);
  if (!parsed.ok()) return usage_error("status", parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (!parsed->positional.empty()) return usage_error("status", "takes no arguments");
  if (!global_config) return usage_error("status", "--config FILE is required (ferryctl --config FILE status)");

  config::ConfigLoad load = config::load_config_file(*global_config);
  if (!load.ok()) {
    std::fputs(policy::to_string(load.errors).c_str(), stderr);
    return kExitUsage;
  }
  const std::string path = load.config->spool.dir + "/" + daemon::kStatusFileName;
  crypto::Result<crypto::Bytes> raw = fs::read_file(path, 1 << 20);
  struct stat st;
  const bool fresh = raw.ok() && ::stat(path.c_str(), &st) == 0 &&
                     std::time(nullptr) - st.st_mtime <= daemon::kStatusStaleSeconds;
  const std::string side(config::to_string(load.config->side));
  if (!raw.ok()) {
    std::printf("%s side: not running (no status file %s)\n", side.c_str(), path.c_str());
    return kExitNegative;
  }
  const std::string json(raw->begin(), raw->end());
  const bool alive = [&] {
    const long p = std::atol(field(json, "pid").c_str());
    return p > 0 && !(::kill(static_cast<pid_t>(p), 0) != 0 && errno == ESRCH);
  }();
  if (parsed->has("json")) {
    std::fputs(json.c_str(), stdout);
    return fresh && alive ? kExitOk : kExitNegative;
  }
  // A fresh file whose writer is gone (stopped cleanly a moment ago, or
  // killed) is not a running side either.
  if (fresh && !alive) {
    std::printf("%s side: not running (pid %s has exited)\n", side.c_str(), field(json, "pid").c_str());
    return kExitNegative;
  }
  if (!fresh) {
    std::printf("%s side: not running (status last written %s ago)\n", side.c_str(),
                fmt_age((std::time(nullptr) - st.st_mtime) * 1000LL).c_str());
    return kExitNegative;
  }
  std::printf("%s side: running (pid %s), policy serial %s\n", side.c_str(), field(json, "pid").c_str(),
              field(json, "policy_serial").c_str());
  const std::string state = field(json, "state");
  std::printf("link: %s", state.c_str());
  if (state == "up") {
    std::printf(", session %s, age %s", field(json, "session_id").c_str(),
                fmt_age(std::stoll(field(json, "session_age_ms"))).c_str());
  }
  std::printf("\npeer key fingerprint (SM3): %s\n", field(json, "peer_fingerprint").c_str());
  const std::string peer_serial = field(json, "peer_policy_serial");
  if (peer_serial != "null" && !peer_serial.empty()) {
    std::printf("peer policy serial: %s%s\n", peer_serial.c_str(),
                peer_serial != field(json, "policy_serial") ? "  (DIFFERS from ours; each side enforces its own)" : "");
  }
  std::printf("\n%-16s %-8s", "CHANNEL", "ROLE");
  static constexpr const char* kStates[] = {"incoming", "outgoing", "partial", "received", "quarantine"};
  for (const char* s : kStates) std::printf(" %18s", s);
  std::printf("\n");
  for (const config::Binding& b : load.config->channels) {
    const std::string key = "\"" + b.channel + "\":{\"role\":";
    std::size_t p = json.find(key);
    if (p == std::string::npos) continue;
    const std::size_t end = json.find("}}}", p);
    const std::string block = json.substr(p, end - p + 3);
    std::printf("%-16s %-8s", b.channel.c_str(), field(block, "role").c_str());
    for (const char* s : kStates) {
      const std::size_t q = block.find(std::string("\"") + s + "\":{");
      const std::string sub = q == std::string::npos ? "" : block.substr(q, block.find('}', q) - q + 1);
      char cell[40];
      std::snprintf(cell, sizeof cell, "%s (%s B)", field(sub, "objects").c_str(), field(sub, "bytes").c_str());
      std::printf(" %18s", cell);
    }
    std::printf("\n");
  }
  std::printf("\nframes in %s, out %s; dropped: corrupt %s, replay %s, out of window %s, malformed %s\n",
              field(json, "frames_in").c_str(), field(json, "frames_out").c_str(),
              field(json, "dropped_corrupt").c_str(), field(json, "dropped_replay").c_str(),
              field(json, "dropped_out_of_window").c_str(), field(json, "dropped_malformed").c_str());
  const std::string err = field(json, "last_error");
  std::printf("last error: %s\n", err.empty() ? "none" : err.c_str());
  return kExitOk;
}

}  // namespace ferry::ctl

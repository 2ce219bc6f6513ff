// The side's configuration, schema ferry-config/1 (../shared/reference/
// outer.yaml and inner.yaml): the system administrator's statement of WHERE
// things are on one side (spool, keys, officers' keys, link, the directories
// and addresses each channel is bound to). WHAT may cross is the policy's.
//
// Loading is strict like the policy's (unknown keys, wrong types, values out
// of range are errors with file, line, column and key) and goes on to check
// what a daemon would otherwise trip over at start-up: key files that are
// missing, readable by others or not SM2, a missing policy file, a link
// socket in a directory that does not exist. Relative paths are resolved
// against the config file's directory; the model holds absolute paths.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostic.h"
#include "policy/policy.h"

namespace ferry::config {

using policy::Diagnostic;
using policy::Position;

inline constexpr std::string_view kConfigSchema = "ferry-config/1";
inline constexpr std::size_t kMaxConfigFileSize = std::size_t{1} << 20;
inline constexpr std::size_t kMaxKeyFileSize = std::size_t{64} << 10;

enum class Side { outer, inner };

// The direction's sending side: inbound (outer -> inner) is sent by outer.
Side sending_side(policy::Direction direction);
std::string_view to_string(Side side);

// The three roles of 三员分立, each with its SM2 public keys (absolute
// paths). A key may serve one role only.
struct Officers {
  std::vector<std::string> sysadmin;
  std::vector<std::string> secadmin;
  std::vector<std::string> auditor;
};

struct SpoolConfig {
  std::string dir;
  // Below this much free space the receiver stops accepting new objects
  // (flow control on the link) until space returns.
  std::uint64_t min_free = std::uint64_t{64} << 20;
};

struct Identity {
  std::string key;   // this side's SM2 private key (PEM), mode 0600 or stricter
  std::string peer;  // the other side's SM2 public key, pinned
};

enum class LinkTransport {
  unix_socket,  // `unix`: a UNIX stream socket; the inner side listens
  pcap,         // raw Ethernet frames on a dedicated NIC
};
enum class PcapMode { duplex, oneway };

struct LinkConfig {
  LinkTransport transport = LinkTransport::unix_socket;
  std::string path;       // unix: the socket
  std::string interface;  // pcap: the isolation NIC
  PcapMode mode = PcapMode::duplex;
  std::uint64_t max_frame = 65536;  // bytes, 1024..1048576; both sides must agree
  std::uint64_t rekey_bytes = std::uint64_t{1} << 30;
  std::chrono::seconds rekey_interval{3600};  // rekey_seconds
  std::chrono::seconds keepalive_interval{5};  // keepalive_seconds
};

enum class BindingRole {
  source,    // directory files are taken from (the sending side of a file channel)
  deliver,   // directory files are delivered into (the receiving side)
  listen,    // "HOST:PORT" clients connect to (request/message channels)
  upstream,  // URL requests are forwarded to (request/message channels)
};
std::string_view to_string(BindingRole role);

struct TlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;  // empty: clients are not asked for certificates
};

// One channel's binding on this side.
struct Binding {
  std::string channel;
  BindingRole role = BindingRole::source;
  // An absolute directory for source/deliver, "HOST:PORT" for listen, the
  // URL for upstream.
  std::string target;
  std::optional<TlsFiles> tls;  // listen only
  Position position;       // of the channel's name under `channels:`
  Position role_position;  // of the role key (`source:`, `deliver:`, ...)
};

struct AntivirusConfig {
  std::string database;  // ClamAV signature directory
  // A database older than this scans nothing (every object not_scanned):
  // signatures reach an air-gapped network by hand, and a stale set must
  // be noticed, not trusted. max_age_days; 0 turns the check off.
  std::chrono::days max_age{30};
};

// The sandboxed worker that parses hostile bytes ([disarm]; ferry/sandbox).
struct WorkerConfig {
  std::string program;         // empty: ferry-worker beside ferryd
  std::string user = "nobody";  // the unprivileged user it runs as when ferryd is root
  std::uint64_t memory = std::uint64_t{1} << 30;   // address space beyond what it needs at start (RLIMIT_AS)
  // Time for one object: floor + per_mib per MiB of the object, at most ceiling.
  std::chrono::seconds timeout_floor{10};
  std::chrono::milliseconds timeout_per_mib{2000};
  std::chrono::seconds timeout_ceiling{600};
  unsigned max_use = 200;      // objects per worker process before a fresh one
};

enum class AuditOnFull { block, overwrite_oldest };

struct AuditConfig {
  std::string dir;
  std::chrono::days retention{180};  // retention_days; PRC Cybersecurity Law art. 21: at least six months
  AuditOnFull on_full = AuditOnFull::block;
  std::optional<std::string> syslog;  // "udp://HOST:PORT" or "tcp://HOST:PORT"
  std::uint64_t segment_size = std::uint64_t{64} << 20;  // a segment file rotates past this
  // The audit trail's budget (max_size) and the file system reserve
  // (min_free): full at either (CC FAU_STG.3/4), warned at warn_at_percent.
  std::optional<std::uint64_t> max_size;
  std::uint64_t min_free = std::uint64_t{64} << 20;
  unsigned warn_at_percent = 80;
  // A signed checkpoint every checkpoint_records records or
  // checkpoint_seconds, whichever comes first.
  std::uint64_t checkpoint_records = 1000;
  std::chrono::seconds checkpoint_interval{60};
};

struct MetricsConfig {
  std::string listen;  // "HOST:PORT"
};

struct IngestConfig {
  // A file is taken once its size and mtime have been stable this long.
  std::chrono::milliseconds settle{1000};      // settle_ms
  std::chrono::seconds rescan_interval{10};    // rescan_seconds, beside inotify
};

struct Config {
  std::string source;  // the config file, as named to the loader
  Side side = Side::outer;
  std::string policy;  // absolute path of the policy file
  std::optional<Officers> officers;
  SpoolConfig spool;
  Identity identity;
  LinkConfig link;
  std::vector<Binding> channels;  // in document order
  std::optional<AntivirusConfig> antivirus;
  WorkerConfig worker;
  AuditConfig audit;
  std::optional<MetricsConfig> metrics;
  IngestConfig ingest;

  const Binding* find(std::string_view channel) const;

  // False while the configured transport is parsed but not available yet
  // (pcap): the daemon must refuse to start rather than run without a link.
  bool link_transport_available() const;

  // One human line per key that is parsed and validated but not yet acted
  // on, for the daemon to print at start-up ("metrics: parsed; not served
  // yet"), so that nothing configured is ignored silently.
  std::vector<std::string> inactive_features() const;
};

// A config, or every problem found in it: `config` is set if and only if
// `errors` is empty.
struct ConfigLoad {
  std::optional<Config> config;
  std::vector<Diagnostic> errors;

  bool ok() const { return config.has_value(); }
};

ConfigLoad load_config_file(const std::string& path);

// The same from text in memory: `display_name` names the file in
// diagnostics, relative paths resolve against `base_dir`.
ConfigLoad load_config_text(std::string_view text, const std::string& display_name, const std::string& base_dir);

// The config's channel bindings against the policy it will run: each bound
// channel exists in the policy, and each binding suits the side, the
// channel's direction (inbound = outer -> inner) and its kind:
//   file:    sending side `source`, receiving side `deliver`
//   request: sending side `listen`, receiving side `upstream`
//   message: sending side `listen` or `source`, receiving side `upstream`
//            or `deliver`
// A policy channel this side does not bind is not an error (the other side,
// or a later config, may). Diagnostics point into the config file.
std::vector<Diagnostic> check_bindings(const Config& config, const policy::Policy& policy);

}  // namespace ferry::config

// Reads ferry-config/1 strictly (policy/yaml_strict.h), then checks the
// files it names: keys, the policy, the link socket's directory.
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/bytes.h"
#include "ferry/config/config.h"
#include "ferry/config/src/addresses.h"
#include "ferry/config/src/key_files.h"
#include "ferry/fs/durable_file.h"
#include "policy/size.h"
#include "policy/yaml_strict.h"

namespace ferry::config {
namespace {

using policy::yaml::Diagnostics;
using policy::yaml::Field;
using policy::yaml::Mapping;
using policy::yaml::Named;

constexpr std::array<std::string_view, 13> kTopKeys = {"schema",   "side",     "policy",    "officers",
                                                        "spool",    "identity", "link",      "channels",
                                                        "antivirus", "worker",  "audit",     "metrics",
                                                        "ingest"};
constexpr std::array<std::string_view, 3> kOfficerKeys = {"sysadmin", "secadmin", "auditor"};
constexpr std::array<std::string_view, 2> kSpoolKeys = {"dir", "min_free"};
constexpr std::array<std::string_view, 2> kIdentityKeys = {"key", "peer"};
constexpr std::array<std::string_view, 8> kLinkKeys = {"transport",   "path",        "interface",     "mode",
                                                       "max_frame",   "rekey_bytes", "rekey_seconds", "keepalive_seconds"};
constexpr std::array<std::string_view, 5> kBindingKeys = {"source", "deliver", "listen", "upstream", "tls"};
constexpr std::array<std::string_view, 3> kTlsKeys = {"cert", "key", "client_ca"};
constexpr std::array<std::string_view, 2> kAntivirusKeys = {"database", "max_age_days"};
constexpr std::array<std::string_view, 7> kWorkerKeys = {"program",           "user",
                                                         "memory",            "timeout_floor_seconds",
                                                         "timeout_per_mib_ms", "timeout_ceiling_seconds",
                                                         "max_use"};
constexpr std::array<std::string_view, 10> kAuditKeys = {
    "dir",      "retention_days", "on_full",         "syslog",  "segment_size",
    "max_size", "min_free",       "warn_at_percent", "checkpoint_records", "checkpoint_seconds"};
constexpr std::array<std::string_view, 1> kMetricsKeys = {"listen"};
constexpr std::array<std::string_view, 2> kIngestKeys = {"settle_ms", "rescan_seconds"};

constexpr std::array<Named<Side>, 2> kSideNames{{{"outer", Side::outer}, {"inner", Side::inner}}};
constexpr std::array<Named<LinkTransport>, 2> kTransportNames{{{"unix", LinkTransport::unix_socket},
                                                               {"pcap", LinkTransport::pcap}}};
constexpr std::array<Named<PcapMode>, 2> kPcapModeNames{{{"duplex", PcapMode::duplex}, {"oneway", PcapMode::oneway}}};
constexpr std::array<Named<AuditOnFull>, 2> kOnFullNames{{{"block", AuditOnFull::block},
                                                          {"overwrite_oldest", AuditOnFull::overwrite_oldest}}};
constexpr std::array<Named<BindingRole>, 4> kRoleNames{{{"source", BindingRole::source},
                                                        {"deliver", BindingRole::deliver},
                                                        {"listen", BindingRole::listen},
                                                        {"upstream", BindingRole::upstream}}};

constexpr std::uint64_t kMinMaxFrame = 1024;
constexpr std::uint64_t kMaxMaxFrame = 1048576;
constexpr std::uint64_t kMinRekeyBytes = 4096;
// SM4 has 128-bit blocks: stay far below the 2^64-byte birthday bound per key.
constexpr std::uint64_t kMaxRekeyBytes = std::uint64_t{64} << 30;
constexpr std::uint64_t kMaxRekeySeconds = 7 * 86400;
constexpr std::uint64_t kMaxKeepaliveSeconds = 3600;
constexpr std::uint64_t kMaxRetentionDays = 36500;
constexpr std::uint64_t kMaxSettleMs = 600'000;
constexpr std::uint64_t kMaxRescanSeconds = 3600;
// Linux IFNAMSIZ is 16 with the terminating NUL.
constexpr std::size_t kMaxInterfaceName = 15;

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A directory the side writes into or reads from, for the overlap check.
struct NamedDir {
  std::string key;
  std::string path;
  Field field;
};

bool inside_or_equal(const std::string& a, const std::string& b) {
  return a == b || (a.size() > b.size() && a.compare(0, b.size(), b) == 0 && (b == "/" || a[b.size()] == '/'));
}

class ConfigReader {
 public:
  ConfigReader(std::string_view text, std::string display_name, std::string base_dir)
      : text_(text), diag_(std::move(display_name)), base_dir_(absolute_dir(base_dir)) {}

  ConfigLoad run() {
    config_.source = diag_.file();
    std::optional<YAML::Node> root = policy::yaml::parse_document(text_, diag_);
    if (root) read_document(*root);
    ConfigLoad out;
    if (diag_.empty()) {
      out.config = std::move(config_);
    } else {
      out.errors = diag_.take();
    }
    return out;
  }

 private:
  static std::string absolute_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(dir.empty() ? "." : dir, ec);
    return (ec ? std::filesystem::path(dir) : p).lexically_normal().string();
  }

  std::string resolve(const std::string& p) const {
    std::filesystem::path path(p);
    if (path.is_relative()) path = std::filesystem::path(base_dir_) / path;
    std::string out = path.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
  }

  std::optional<std::string> path_of(const Field& f) {
    std::optional<std::string> s = f.nonempty_string();
    if (!s) return std::nullopt;
    return resolve(*s);
  }

  void read_document(const YAML::Node& root) {
    const Field top = policy::yaml::root_field(root, diag_);
    if (top.is_null()) {
      top.error("empty document", "a config starts with 'schema: ferry-config/1'");
      return;
    }
    std::optional<Mapping> doc = top.mapping(kTopKeys);
    if (!doc) return;

    if (std::optional<Field> f = doc->require("schema")) {
      if (std::optional<std::string> s = f->string(); s && *s != kConfigSchema) {
        std::string hint = "this version reads " + std::string(kConfigSchema);
        if (*s == policy::kPolicySchema) hint = "this is a policy; give the side's config, which names the policy";
        f->error("unsupported schema \"" + *s + "\"", hint);
      }
    }
    if (std::optional<Field> f = doc->require("side")) {
      if (auto v = f->choice<Side>(kSideNames)) config_.side = *v;
    }
    if (std::optional<Field> f = doc->require("policy")) read_policy_path(*f);
    if (std::optional<Field> f = doc->get("officers")) read_officers(*f);
    if (std::optional<Field> f = doc->require("spool")) read_spool(*f);
    if (std::optional<Field> f = doc->require("identity")) read_identity(*f);
    if (std::optional<Field> f = doc->require("link")) read_link(*f);
    if (std::optional<Field> f = doc->require("channels")) read_channels(*f);
    if (std::optional<Field> f = doc->get("antivirus")) read_antivirus(*f);
    if (std::optional<Field> f = doc->get("worker")) read_worker(*f);
    if (std::optional<Field> f = doc->require("audit")) read_audit(*f);
    if (std::optional<Field> f = doc->get("metrics")) read_metrics(*f);
    if (std::optional<Field> f = doc->get("ingest")) read_ingest(*f);
    check_officer_keys();
    check_overlaps();
  }

  void read_policy_path(const Field& f) {
    std::optional<std::string> p = path_of(f);
    if (!p) return;
    config_.policy = *p;
    struct stat st;
    if (::stat(p->c_str(), &st) != 0) {
      f.error("policy file " + *p + ": " + std::strerror(errno),
              "relative paths are resolved against the config file's directory");
    } else if (!S_ISREG(st.st_mode)) {
      f.error("policy file " + *p + " is not a regular file");
    } else if (::access(p->c_str(), R_OK) != 0) {
      f.error("policy file " + *p + ": " + std::strerror(errno));
    }
  }

  // --- keys ---

  std::optional<crypto::Bytes> public_key(const Field& f, const std::string& path) {
    detail::KeyCheck c = detail::check_public_key_file(path);
    if (!c.point) f.error(c.message, c.hint);
    return c.point;
  }

  void read_officers(const Field& f) {
    std::optional<Mapping> m = f.mapping(kOfficerKeys);
    if (!m) return;
    Officers officers;
    for (const Mapping::Entry& e : m->entries()) {
      std::vector<std::string>& role = e.key == "sysadmin" ? officers.sysadmin
                                       : e.key == "secadmin" ? officers.secadmin
                                                             : officers.auditor;
      std::optional<std::vector<Field>> items = e.value.sequence();
      if (!items) continue;
      if (items->empty()) {
        e.value.error("no keys for the " + e.key + " role",
                      "list its officers' public keys, or leave the role out");
      }
      for (const Field& item : *items) {
        std::optional<std::string> p = path_of(item);
        if (!p) continue;
        role.push_back(*p);
        if (std::optional<crypto::Bytes> point = public_key(item, *p)) {
          officer_keys_.push_back({e.key, std::move(*point), item});
        }
      }
    }
    config_.officers = std::move(officers);
  }

  void read_identity(const Field& f) {
    std::optional<Mapping> m = f.mapping(kIdentityKeys);
    if (!m) return;
    if (std::optional<Field> k = m->require("key")) {
      if (std::optional<std::string> p = path_of(*k)) {
        config_.identity.key = *p;
        detail::KeyCheck c = detail::check_private_key_file(*p);
        if (c.point) {
          own_point_ = std::move(c.point);
        } else {
          k->error(c.message, c.hint);
        }
      }
    }
    if (std::optional<Field> k = m->require("peer")) {
      if (std::optional<std::string> p = path_of(*k)) {
        config_.identity.peer = *p;
        peer_point_ = public_key(*k, *p);
        if (peer_point_ && own_point_ && *peer_point_ == *own_point_) {
          k->error("identity.peer is this side's own public key",
                   "pin the other side's public key; each side has its own key pair");
        }
      }
    }
  }

  // 三员分立: no key may act for two roles, and the machine keys of the two
  // sides are not officers' keys.
  void check_officer_keys() {
    for (std::size_t i = 0; i < officer_keys_.size(); ++i) {
      const OfficerKey& k = officer_keys_[i];
      for (std::size_t j = 0; j < i; ++j) {
        const OfficerKey& earlier = officer_keys_[j];
        if (earlier.point != k.point) continue;
        if (earlier.role == k.role) {
          k.field.error("the same key is listed twice for " + k.role,
                        "first at line " + std::to_string(earlier.field.position().line));
        } else {
          k.field.error("the same key serves two roles, " + earlier.role + " and " + k.role,
                        "三员分立: each role has its own officers and keys");
        }
        break;
      }
      if (own_point_ && k.point == *own_point_) {
        k.field.error("this officer key is the side's own identity key",
                      "officers sign with their own keys, never with a machine key");
      } else if (peer_point_ && k.point == *peer_point_) {
        k.field.error("this officer key is the other side's identity key",
                      "officers sign with their own keys, never with a machine key");
      }
    }
  }

  // --- spool, link ---

  void read_spool(const Field& f) {
    if (f.is_scalar()) {
      if (std::optional<std::string> p = path_of(f)) {
        config_.spool.dir = *p;
        dirs_.push_back({"spool", *p, f});
      }
      return;
    }
    if (!f.is_mapping()) {
      f.error("expected a directory or { dir: PATH, min_free: SIZE }, got " + f.describe());
      return;
    }
    std::optional<Mapping> m = f.mapping(kSpoolKeys);
    if (!m) return;
    if (std::optional<Field> d = m->require("dir")) {
      if (std::optional<std::string> p = path_of(*d)) {
        config_.spool.dir = *p;
        dirs_.push_back({"spool.dir", *p, *d});
      }
    }
    if (std::optional<Field> v = m->get("min_free")) {
      if (auto n = v->size()) config_.spool.min_free = *n;
    }
  }

  void read_link(const Field& f) {
    std::optional<Mapping> m = f.mapping(kLinkKeys);
    if (!m) return;
    LinkConfig& link = config_.link;
    std::optional<LinkTransport> transport;
    if (std::optional<Field> t = m->require("transport")) transport = t->choice<LinkTransport>(kTransportNames);
    if (transport) link.transport = *transport;

    if (transport == LinkTransport::unix_socket) {
      const std::string hint = "transport is unix; it takes path";
      m->refuse("interface", "interface is for transport pcap", hint);
      m->refuse("mode", "mode is for transport pcap", hint);
      if (std::optional<Field> p = m->require("path")) {
        if (std::optional<std::string> path = path_of(*p)) {
          link.path = *path;
          const std::string dir = fs::parent_directory(*path);
          if (path->size() >= sizeof(sockaddr_un{}.sun_path)) {
            p->error("socket path " + *path + " is longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                         " bytes, the limit of a UNIX socket address",
                     "put the socket in a directory with a shorter path");
          } else if (!is_directory(dir)) {
            p->error("the socket's directory " + dir + " does not exist", "create it, or put the socket elsewhere");
          }
        }
      }
    } else if (transport == LinkTransport::pcap) {
      m->refuse("path", "path is for transport unix", "transport is pcap; it takes interface and mode");
      if (std::optional<Field> i = m->require("interface")) {
        if (std::optional<std::string> name = i->nonempty_string()) {
          const bool ok = name->size() <= kMaxInterfaceName &&
                          std::none_of(name->begin(), name->end(), [](char c) {
                            return c == '/' || c == ':' || c == ' ' || c == '\t';
                          }) &&
                          *name != "." && *name != "..";
          if (ok) {
            link.interface = *name;
          } else {
            i->error("\"" + *name + "\" is not a network interface name",
                     "at most 15 characters, no '/', ':' or spaces (e.g. enp3s0)");
          }
        }
      }
      if (std::optional<Field> v = m->get("mode")) {
        if (auto mode = v->choice<PcapMode>(kPcapModeNames)) link.mode = *mode;
      }
    }
    if (std::optional<Field> v = m->get("max_frame")) {
      if (auto n = v->size(kMinMaxFrame, kMaxMaxFrame)) link.max_frame = *n;
    }
    if (std::optional<Field> v = m->get("rekey_bytes")) {
      if (auto n = v->size(kMinRekeyBytes, kMaxRekeyBytes)) link.rekey_bytes = *n;
    }
    if (std::optional<Field> v = m->get("rekey_seconds")) {
      if (auto n = v->unsigned_integer(1, kMaxRekeySeconds)) link.rekey_interval = std::chrono::seconds(*n);
    }
    if (std::optional<Field> v = m->get("keepalive_seconds")) {
      if (auto n = v->unsigned_integer(1, kMaxKeepaliveSeconds)) link.keepalive_interval = std::chrono::seconds(*n);
    }
  }

  // --- channels ---

  void read_channels(const Field& f) {
    std::optional<Mapping> m = f.any_mapping();
    if (!m) return;
    for (const Mapping::Entry& e : m->entries()) {
      if (!policy::valid_name(e.key)) {
        e.key_field.error("invalid channel name \"" + e.key + "\"", std::string(policy::kNameRuleHint));
        continue;
      }
      if (std::optional<Binding> b = read_binding(e)) config_.channels.push_back(std::move(*b));
    }
  }

  std::optional<Binding> read_binding(const Mapping::Entry& e) {
    std::optional<Mapping> m = e.value.mapping(kBindingKeys);
    if (!m) return std::nullopt;
    const std::size_t errors_before = diag_.size();
    Binding b;
    b.channel = e.key;
    b.position = e.key_field.position();

    const Mapping::Entry* role_entry = nullptr;
    for (const Mapping::Entry& r : m->entries()) {
      if (r.key == "tls") continue;
      if (role_entry != nullptr) {
        r.key_field.error("a second binding for channel " + e.key + " (already " + role_entry->key + ")",
                          "a channel has one binding on each side: source, deliver, listen or upstream");
        continue;
      }
      role_entry = &r;
    }
    if (role_entry == nullptr) {
      e.key_field.error("channel " + e.key + " has no binding",
                        "give one of: source DIR, deliver DIR, listen HOST:PORT, upstream URL");
      return std::nullopt;
    }
    for (const Named<BindingRole>& n : kRoleNames) {
      if (n.name == role_entry->key) b.role = n.value;
    }
    b.role_position = role_entry->key_field.position();
    const Field& value = role_entry->value;
    switch (b.role) {
      case BindingRole::source:
      case BindingRole::deliver:
        if (std::optional<std::string> p = path_of(value)) {
          b.target = *p;
          dirs_.push_back({value.path(), *p, value});
        }
        break;
      case BindingRole::listen:
        if (std::optional<std::string> s = value.nonempty_string()) {
          if (std::optional<std::string> why = detail::host_port_problem(*s)) {
            value.error(*why, "HOST:PORT, e.g. \"127.0.0.1:8443\" or \"[::1]:8443\"");
          } else {
            b.target = *s;
          }
        }
        break;
      case BindingRole::upstream:
        if (std::optional<std::string> s = value.nonempty_string()) {
          if (std::optional<std::string> why = detail::url_problem(*s, {"http", "https"}, false)) {
            value.error(*why, "e.g. \"http://127.0.0.1:8080\"");
          } else {
            b.target = *s;
          }
        }
        break;
    }
    if (std::optional<Field> t = m->get("tls")) {
      if (b.role != BindingRole::listen) {
        m->refuse("tls", "tls belongs to a listen binding", "channel " + e.key + " is bound with " +
                                                                  std::string(to_string(b.role)));
      } else {
        b.tls = read_tls(*t);
      }
    }
    if (diag_.size() != errors_before) return std::nullopt;
    return b;
  }

  std::optional<TlsFiles> read_tls(const Field& f) {
    std::optional<Mapping> m = f.mapping(kTlsKeys);
    if (!m) return std::nullopt;
    TlsFiles tls;
    if (std::optional<Field> v = m->require("cert")) tls.cert = path_of(*v).value_or("");
    if (std::optional<Field> v = m->require("key")) tls.key = path_of(*v).value_or("");
    if (std::optional<Field> v = m->get("client_ca")) tls.client_ca = path_of(*v).value_or("");
    return tls;
  }

  // --- the rest ---

  void read_antivirus(const Field& f) {
    std::optional<Mapping> m = f.mapping(kAntivirusKeys);
    if (!m) return;
    AntivirusConfig av;
    if (std::optional<Field> v = m->require("database")) av.database = path_of(*v).value_or("");
    if (std::optional<Field> v = m->get("max_age_days")) {
      if (auto n = v->unsigned_integer(0, 3650)) av.max_age = std::chrono::days(*n);
    }
    config_.antivirus = std::move(av);
  }

  void read_worker(const Field& f) {
    std::optional<Mapping> m = f.mapping(kWorkerKeys);
    if (!m) return;
    WorkerConfig& w = config_.worker;
    if (std::optional<Field> v = m->get("program")) {
      w.program = path_of(*v).value_or("");
      if (!w.program.empty() && ::access(w.program.c_str(), X_OK) != 0) {
        v->error("worker.program " + w.program + " is not an executable file", "leave it out to use ferry-worker beside ferryd");
      }
    }
    if (std::optional<Field> v = m->get("user")) w.user = v->nonempty_string().value_or(w.user);
    if (std::optional<Field> v = m->get("memory")) {
      if (auto n = v->size()) {
        if (*n < (std::uint64_t{64} << 20)) {
          v->error("worker.memory below 64MiB", "the parsers need room; the default is 1GiB");
        } else {
          w.memory = *n;
        }
      }
    }
    if (std::optional<Field> v = m->get("timeout_floor_seconds")) {
      if (auto n = v->unsigned_integer(1, 3600)) w.timeout_floor = std::chrono::seconds(*n);
    }
    if (std::optional<Field> v = m->get("timeout_per_mib_ms")) {
      if (auto n = v->unsigned_integer(0, 600'000)) w.timeout_per_mib = std::chrono::milliseconds(*n);
    }
    if (std::optional<Field> v = m->get("timeout_ceiling_seconds")) {
      if (auto n = v->unsigned_integer(1, 86400)) w.timeout_ceiling = std::chrono::seconds(*n);
    }
    if (w.timeout_ceiling < w.timeout_floor) {
      f.error("worker.timeout_ceiling_seconds is below timeout_floor_seconds", "the ceiling bounds the floor");
    }
    if (std::optional<Field> v = m->get("max_use")) {
      if (auto n = v->unsigned_integer(1, 1'000'000)) w.max_use = static_cast<unsigned>(*n);
    }
  }

  void read_audit(const Field& f) {
    std::optional<Mapping> m = f.mapping(kAuditKeys);
    if (!m) return;
    AuditConfig& audit = config_.audit;
    if (std::optional<Field> v = m->require("dir")) {
      if (std::optional<std::string> p = path_of(*v)) {
        audit.dir = *p;
        dirs_.push_back({"audit.dir", *p, *v});
      }
    }
    if (std::optional<Field> v = m->get("retention_days")) {
      if (auto n = v->unsigned_integer(1, kMaxRetentionDays)) audit.retention = std::chrono::days(*n);
    }
    if (std::optional<Field> v = m->get("on_full")) {
      if (auto x = v->choice<AuditOnFull>(kOnFullNames)) audit.on_full = *x;
    }
    if (std::optional<Field> v = m->get("segment_size")) {
      if (auto n = v->size(std::uint64_t{16} << 10, std::uint64_t{1} << 32)) audit.segment_size = *n;
    }
    if (std::optional<Field> v = m->get("max_size")) {
      if (auto n = v->size(std::uint64_t{64} << 10)) audit.max_size = *n;
    }
    if (std::optional<Field> v = m->get("min_free")) {
      if (auto n = v->size()) audit.min_free = *n;
    }
    if (std::optional<Field> v = m->get("warn_at_percent")) {
      if (auto n = v->unsigned_integer(1, 99)) audit.warn_at_percent = static_cast<unsigned>(*n);
    }
    if (std::optional<Field> v = m->get("checkpoint_records")) {
      if (auto n = v->unsigned_integer(1, 1'000'000)) audit.checkpoint_records = *n;
    }
    if (std::optional<Field> v = m->get("checkpoint_seconds")) {
      if (auto n = v->unsigned_integer(1, 86400)) audit.checkpoint_interval = std::chrono::seconds(*n);
    }
    if (std::optional<Field> v = m->get("syslog")) {
      if (std::optional<std::string> s = v->nonempty_string()) {
        if (std::optional<std::string> why = detail::url_problem(*s, {"udp", "tcp"}, true)) {
          v->error(*why, "e.g. \"udp://127.0.0.1:514\"");
        } else {
          audit.syslog = *s;
        }
      }
    }
  }

  void read_metrics(const Field& f) {
    std::optional<Mapping> m = f.mapping(kMetricsKeys);
    if (!m) return;
    MetricsConfig metrics;
    if (std::optional<Field> v = m->require("listen")) {
      if (std::optional<std::string> s = v->nonempty_string()) {
        if (std::optional<std::string> why = detail::host_port_problem(*s)) {
          v->error(*why, "HOST:PORT, e.g. \"127.0.0.1:9750\"");
        } else {
          metrics.listen = *s;
        }
      }
    }
    config_.metrics = std::move(metrics);
  }

  void read_ingest(const Field& f) {
    std::optional<Mapping> m = f.mapping(kIngestKeys);
    if (!m) return;
    if (std::optional<Field> v = m->get("settle_ms")) {
      if (auto n = v->unsigned_integer(0, kMaxSettleMs)) config_.ingest.settle = std::chrono::milliseconds(*n);
    }
    if (std::optional<Field> v = m->get("rescan_seconds")) {
      if (auto n = v->unsigned_integer(1, kMaxRescanSeconds)) config_.ingest.rescan_interval = std::chrono::seconds(*n);
    }
  }

  // The spool, the audit directory and the channels' directories must be
  // apart: a deliver directory inside a source directory would send every
  // delivered file straight back, and ingest must never see the spool.
  void check_overlaps() {
    for (std::size_t i = 0; i < dirs_.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        const NamedDir& a = dirs_[i];
        const NamedDir& b = dirs_[j];
        if (a.path == b.path) {
          a.field.error("same directory as " + b.key + " (" + a.path + ")", "each role needs its own directory");
        } else if (inside_or_equal(a.path, b.path) || inside_or_equal(b.path, a.path)) {
          a.field.error("directory " + a.path + " overlaps " + b.key + " (" + b.path + ")",
                        "keep the spool, audit and channel directories apart");
        } else {
          continue;
        }
        break;
      }
    }
  }

  struct OfficerKey {
    std::string role;
    crypto::Bytes point;
    Field field;
  };

  std::string_view text_;
  Diagnostics diag_;
  std::string base_dir_;
  Config config_;
  std::vector<OfficerKey> officer_keys_;
  std::optional<crypto::Bytes> own_point_;
  std::optional<crypto::Bytes> peer_point_;
  std::vector<NamedDir> dirs_;
};

}  // namespace

ConfigLoad load_config_text(std::string_view text, const std::string& display_name, const std::string& base_dir) {
  return ConfigReader(text, display_name, base_dir).run();
}

ConfigLoad load_config_file(const std::string& path) {
  ConfigLoad out;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    out.errors.push_back(Diagnostic{path, 0, 0, "", "cannot read the config: not a regular file", ""});
    return out;
  }
  crypto::Result<crypto::Bytes> bytes = fs::read_file(path, kMaxConfigFileSize);
  if (!bytes.ok()) {
    std::string why = bytes.error().message;
    if (why.rfind(path + ": ", 0) == 0) why.erase(0, path.size() + 2);
    out.errors.push_back(Diagnostic{path, 0, 0, "", "cannot read the config: " + why, ""});
    return out;
  }
  const std::string text(bytes->begin(), bytes->end());
  return load_config_text(text, path, fs::parent_directory(path));
}

}  // namespace ferry::config

#include "tests/integration/two_sides.h"

#include <signal.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "crypto/sm2.h"
#include "crypto/sm3.h"

namespace ferry::test {
namespace stdfs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& content, mode_t mode = 0644) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  ::chmod(path.c_str(), mode);
}

void replace_once(std::string& text, const std::string& from, const std::string& to) {
  std::size_t p = text.find(from);
  if (p == std::string::npos) throw std::runtime_error("reference config lacks '" + from + "'");
  text.replace(p, from.size(), to);
}

const char* name(Which w) { return w == Which::outer ? "outer" : "inner"; }

}  // namespace

TwoSides::TwoSides(TwoSidesOptions options) : options_(std::move(options)) {
  std::string tmpl = (stdfs::temp_directory_path() / "ferry-it-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  const std::string ref = FERRY_REFERENCE_DIR;
  std::string policy = slurp(ref + "/policy.yaml");
  spit(dir_ + "/policy.yaml", policy);
  for (Which w : {Which::outer, Which::inner}) {
    std::string text = slurp(ref + "/" + name(w) + ".yaml");
    const std::string side = name(w);
    std::string spool_line = "spool: var/" + side + "/spool";
    if (w == Which::inner && !options_.inner_root.empty()) {
      replace_once(text, spool_line, "spool: { dir: " + options_.inner_root + "/spool, min_free: " +
                                         options_.min_free + " }");
      replace_once(text, "docs-in:       { deliver: outbox/docs-in }",
                   "docs-in:       { deliver: " + options_.inner_root + "/outbox/docs-in }");
    } else {
      replace_once(text, spool_line, "spool: { dir: var/" + side + "/spool, min_free: " + options_.min_free + " }");
    }
    if (w == Which::outer && !options_.outer_link_path.empty()) {
      replace_once(text, "  path: var/link.sock", "  path: " + options_.outer_link_path);
    }
    if (!options_.link_extra.empty()) {
      replace_once(text, "  transport: unix", "  transport: unix\n" + options_.link_extra);
    }
    const int port = free_tcp_port();
    metrics_port_[w == Which::outer ? 0 : 1] = port;
    replace_once(text, w == Which::outer ? "127.0.0.1:9750" : "127.0.0.1:9751", "127.0.0.1:" + std::to_string(port));
    if (!options_.audit_extra.empty()) replace_once(text, "\naudit:\n", "\naudit:\n" + options_.audit_extra);
    if (w == Which::outer && !options_.outer_audit_extra.empty()) {
      replace_once(text, "\naudit:\n", "\naudit:\n" + options_.outer_audit_extra);
    }
    if (!options_.on_full.empty()) replace_once(text, "on_full: block ", "on_full: " + options_.on_full + " ");
    text += "\ningest: { settle_ms: " + std::to_string(options_.settle.count()) + ", rescan_seconds: 1 }\n";
    text += options_.config_extra;
    spit(config(w), text);
  }
  for (const char* who : {"outer", "inner", "sysadmin", "secadmin", "secadmin2", "auditor"}) {
    auto key = crypto::Sm2PrivateKey::generate();
    if (!key.ok()) throw std::runtime_error(key.error().message);
    crypto::SecretBytes pem = key->to_pem();
    spit(dir_ + "/keys/" + who + ".key", std::string(pem.view().begin(), pem.view().end()), 0600);
    spit(dir_ + "/keys/" + who + ".pub", key->public_key().to_pem());
  }
  sign_policy();
  // The configs' antivirus.database: one signature, the EICAR test file by
  // MD5 (ClamAV .hdb), written here; no test downloads anything.
  spit(dir_ + "/avdb/ferry-test.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n");
  for (const char* d : {"var", "avdb", "inbox/docs-in", "inbox/release-out", "inbox/open-data-out", "outbox/docs-in",
                        "outbox/release-out", "outbox/open-data-out"}) {
    stdfs::create_directories(dir_ + "/" + d);
  }
}

TwoSides::~TwoSides() {
  procs_.clear();  // SIGKILL and reap whatever still runs
  std::error_code ec;
  stdfs::remove_all(dir_, ec);
}

std::string TwoSides::config(Which w) const { return dir_ + "/" + name(w) + ".yaml"; }

void TwoSides::sign_policy(const std::string& key_name) const {
  const std::string pem = slurp(dir_ + "/keys/" + key_name + ".key");
  auto key = crypto::Sm2PrivateKey::from_pem(pem);
  if (!key.ok()) throw std::runtime_error(key.error().message);
  auto sig = crypto::sm2_sign(*key, crypto::as_bytes(slurp(policy_path())));
  if (!sig.ok()) throw std::runtime_error(sig.error().message);
  spit(policy_path() + ".sig", std::string(sig->begin(), sig->end()));
}

void TwoSides::write_signed_policy(const std::string& text, const std::string& key_name) const {
  spit(policy_path(), text);
  sign_policy(key_name);
}
std::string TwoSides::inbox(const std::string& channel) const { return dir_ + "/inbox/" + channel; }
std::string TwoSides::outbox(const std::string& channel) const {
  if (channel == "docs-in" && !options_.inner_root.empty()) return options_.inner_root + "/outbox/docs-in";
  return dir_ + "/outbox/" + channel;
}
std::string TwoSides::spool(Which w) const {
  if (w == Which::inner && !options_.inner_root.empty()) return options_.inner_root + "/spool";
  return dir_ + "/var/" + name(w) + "/spool";
}
std::string TwoSides::audit_dir(Which w) const { return dir_ + "/var/" + name(w) + "/audit"; }

ProcessOutcome TwoSides::ctl(Which w, std::vector<std::string> args) const {
  args.insert(args.begin(), {FERRYCTL_PATH, "--config", config(w)});
  ProcessOptions opts;
  opts.working_directory = dir_;
  opts.timeout = std::chrono::seconds(60);
  return run_process(args, opts);
}

std::size_t TwoSides::approve_pending(Which w, const std::string& key_name) const {
  ProcessOutcome listed = ctl(w, {"pending", "--json"});
  if (!listed.succeeded()) return 0;
  std::vector<std::string> args = {"approve"};
  static const std::regex kObject("\"object\": ?\"([0-9a-f]{32})\"");
  for (auto it = std::sregex_iterator(listed.out.begin(), listed.out.end(), kObject); it != std::sregex_iterator(); ++it) {
    args.push_back((*it)[1].str());
  }
  const std::size_t n = args.size() - 1;
  if (n == 0) return 0;
  args.insert(args.end(), {"--key", key(key_name)});
  ProcessOutcome approved = ctl(w, args);
  return approved.succeeded() ? n : 0;
}

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string TwoSides::log(Which w) const {
  try {
    return slurp(dir_ + "/" + name(w) + ".log");
  } catch (const std::exception&) {
    return "";
  }
}

void TwoSides::start(Which w) {
  std::string error;
  auto p = DaemonProcess::start({FERRYD_PATH, "--config", config(w)}, dir_ + "/" + name(w) + ".log", &error);
  if (!p) throw std::runtime_error(error);
  procs_[w] = std::move(p);
}

int TwoSides::stop(Which w) {
  auto& p = procs_[w];
  if (!p) return -1;
  p->signal(SIGTERM);
  std::optional<int> st = p->wait_for(std::chrono::seconds(20));
  p.reset();
  return st.value_or(-1);
}

void TwoSides::kill9(Which w) { procs_[w].reset(); }

bool TwoSides::running(Which w) {
  auto& p = procs_[w];
  return p && p->running();
}

void TwoSides::signal(Which w, int sig) {
  if (auto& p = procs_[w]) p->signal(sig);
}

bool TwoSides::wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit,
                          std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

void drop_file(const std::string& dir, const std::string& relative_path, const std::string& content) {
  const stdfs::path final_path = stdfs::path(dir) / relative_path;
  stdfs::create_directories(final_path.parent_path());
  const std::string part = final_path.string() + ".part";
  spit(part, content);
  stdfs::rename(part, final_path);
}

std::string sm3_hex(const std::string& content) { return crypto::to_hex(crypto::Sm3::digest(crypto::as_bytes(content))); }

std::map<std::string, std::string> digest_tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec); it != stdfs::recursive_directory_iterator(); ++it) {
    const std::string fname = it->path().filename().string();
    if (fname.starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    crypto::Sm3 sm3;
    std::ifstream in(it->path(), std::ios::binary);
    std::vector<char> buf(1 << 20);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      sm3.update(crypto::ByteView(reinterpret_cast<const std::uint8_t*>(buf.data()), static_cast<std::size_t>(in.gcount())));
    }
    out[stdfs::relative(it->path(), dir).string()] = crypto::to_hex(sm3.finish());
  }
  return out;
}

std::string make_content(std::uint64_t seed, std::size_t size) {
  // Text, because every object must now be of a type the policy allows and
  // its true type is decided by content: lower-case letters, spaces and line
  // breaks, so it is valid UTF-8 text (and CSV) that holds no digits or '@'
  // (no personal data) and, in practice, no keyword of the reference lists.
  static constexpr char kAlphabet[33] = "abcdefghijklmnopqrstuvwxyz     \n";
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t v = rng();
    for (int k = 0; k < 8; ++k, v >>= 8) s[i + static_cast<std::size_t>(k)] = kAlphabet[v & 31];
  }
  for (; i < size; ++i) s[i] = kAlphabet[rng() & 31];
  return s;
}

}  // namespace ferry::test

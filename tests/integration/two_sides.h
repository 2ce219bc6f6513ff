// Both sides of ferry as real processes, in a temp directory laid out like
// examples/single-host: the reference configs and policy (unchanged but for
// the few settings a test names), fresh keys, the policy signed by the
// security officer, an antivirus database that knows the EICAR test file,
// inboxes and outboxes.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/subprocess.h"

namespace ferry::test {

enum class Which { outer, inner };

struct TwoSidesOptions {
  std::chrono::milliseconds settle{150};
  // Replaces `path: var/link.sock` in outer.yaml (e.g. a fault proxy's socket).
  std::string outer_link_path;
  // Spool free-space watermark, per side ("1MiB").
  std::string min_free = "1MiB";
  // Where the inner side's spool and outboxes live, if not under the temp
  // dir (e.g. a small file system the test mounted).
  std::string inner_root;
  // Extra YAML appended to both configs' `link:` section (e.g. "  keepalive_seconds: 1\n").
  std::string link_extra;
  // Extra YAML appended to both configs (e.g. a `worker:` section).
  std::string config_extra;
  // Extra keys for both configs' `audit:` section (e.g. "  max_size: 64KiB\n"),
  // and its on_full, when not the reference's block.
  std::string audit_extra;
  std::string outer_audit_extra;  // the outer side's only
  std::string on_full;
};

class TwoSides {
 public:
  explicit TwoSides(TwoSidesOptions options = {});
  ~TwoSides();

  const std::string& dir() const { return dir_; }
  std::string config(Which w) const;
  // The policy both configs name; the configs name keys/secadmin.pub and
  // keys/secadmin2.pub as officers.secadmin, so the sides run it only signed.
  std::string policy_path() const { return dir_ + "/policy.yaml"; }
  // Writes policy.yaml.sig: the signature over the policy's current bytes by
  // keys/KEY_NAME.key (as `ferryctl policy sign` makes it). The constructor
  // signs the reference policy with "secadmin".
  void sign_policy(const std::string& key_name = "secadmin") const;
  // Replaces policy.yaml with `text` and signs it with keys/KEY_NAME.key.
  void write_signed_policy(const std::string& text, const std::string& key_name = "secadmin") const;
  // Source folder of a channel on its sending side; deliver folder on its receiving side.
  std::string inbox(const std::string& channel) const;
  std::string outbox(const std::string& channel) const;
  std::string spool(Which w) const;
  std::string log(Which w) const;  // the side's stderr so far
  std::string audit_dir(Which w) const;
  std::string key(const std::string& who) const { return dir_ + "/keys/" + who + ".key"; }
  std::string pub(const std::string& who) const { return dir_ + "/keys/" + who + ".pub"; }
  // `ferryctl --config <the side's config> ARGS...`, run in the test's directory.
  ProcessOutcome ctl(Which w, std::vector<std::string> args) const;
  // Approves, with keys/KEY_NAME.key, every object `ferryctl pending` lists
  // on the side; returns how many it approved.
  std::size_t approve_pending(Which w, const std::string& key_name = "secadmin") const;
  // The side's metrics port: a free one chosen for this test, in place of
  // the reference's fixed 9750/9751.
  int metrics_port(Which w) const { return w == Which::outer ? metrics_port_[0] : metrics_port_[1]; }

  void start(Which w);
  void start_both() { start(Which::inner); start(Which::outer); }
  // SIGTERM and wait (returns the exit status).
  int stop(Which w);
  void kill9(Which w);
  bool running(Which w);
  void signal(Which w, int sig);

  // Runs until pred() or the deadline; returns pred().
  static bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit,
                         std::chrono::milliseconds poll = std::chrono::milliseconds(50));

 private:
  std::string dir_;
  TwoSidesOptions options_;
  int metrics_port_[2] = {0, 0};
  std::map<Which, std::optional<DaemonProcess>> procs_;
};

// Writes a file atomically enough for ingest: under a *.part name, then renamed.
void drop_file(const std::string& dir, const std::string& relative_path, const std::string& content);
// relative path -> SM3 hex of every regular file under dir (hidden files skipped).
std::map<std::string, std::string> digest_tree(const std::string& dir);
std::string sm3_hex(const std::string& content);
// Deterministic text of a given size from a seed: lower-case letters, spaces
// and line breaks (valid text and CSV, no digits: no personal data).
std::string make_content(std::uint64_t seed, std::size_t size);
// A TCP port on 127.0.0.1 that was free a moment ago.
int free_tcp_port();

}  // namespace ferry::test

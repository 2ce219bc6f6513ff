// ferryd's (and ferryctl's) side of the sandboxed worker ([disarm]): starts
// `ferry-worker`, hands it one object at a time, and takes nothing it says
// on trust.
//
// One worker process serves objects one after another, up to max_use of
// them, then a fresh one is started; after any failure the next object
// also gets a fresh one. A worker that does not answer within the object's
// time (floor + per MiB, at most the ceiling) is killed: worker.timeout.
// One that dies (a parser fault, seccomp, a resource limit) gives
// worker.crash, saying which. One that cannot be started or set up gives
// worker.unavailable. Each of these rejects that object only; it is
// counted and the caller audits it.
//
// Every answer is re-checked as if the worker were compromised
// (worker.bad_answer when it fails): the sequence number; reason codes are
// tokens; an accepted object's type is one the channel allows and matches
// the object's and the output's leading signature; a channel that
// requires antivirus got a clean verdict; a type the channel sanitizes
// came back rebuilt; the output's size is what the worker said, within the
// channel's max_size, and its SM3, computed here, is the one it claimed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "crypto/sm3.h"
#include "ferry/fs/fd.h"
#include "ferry/sandbox/wire.h"
#include "policy/policy.h"

namespace ferry::sandbox {

struct WorkerOptions {
  std::string program;      // the ferry-worker executable
  std::string work_dir;     // each worker gets a fresh directory below this one
  std::string user = "nobody";
  std::uint64_t memory = std::uint64_t{1} << 30;
  std::uint64_t max_output = std::uint64_t{512} << 20;
  std::chrono::milliseconds timeout_floor{std::chrono::seconds(10)};
  std::chrono::milliseconds timeout_per_mib{2000};
  std::chrono::milliseconds timeout_ceiling{std::chrono::seconds(600)};
  std::chrono::milliseconds setup_timeout{std::chrono::seconds(300)};  // loading a large signature set
  unsigned max_use = 200;
  // Refuse to run a worker that could not chroot (ferryd); ferryctl inspect
  // runs one anyway and says so.
  bool require_chroot = true;
  std::string av_database;  // empty: none configured
  std::chrono::hours av_max_age{24 * 30};
};

// The policy a worker loads: its exact text (what was signed), the name
// diagnostics use, and the directory its `{ file: }` lists are read from.
struct WorkerPolicy {
  std::string text;
  std::string name;
  std::string dir;
};

namespace detail {
struct Packet;
}

struct Examined {
  Answer answer;       // re-checked; reasons say worker.* when the worker failed
  fs::Fd output;       // when answer.has_output: the rebuilt object (a sealed memfd)
  // Set when the worker failed on this object (crash, timeout, bad answer):
  // what the caller audits as the worker incident.
  std::optional<std::string> incident;
};

struct WorkerStats {
  std::uint64_t started = 0;
  std::uint64_t served = 0;
  std::uint64_t crashes = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t bad_answers = 0;
  std::uint64_t unavailable = 0;
};

class Worker {
 public:
  Worker(WorkerOptions options, WorkerPolicy policy);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // One object, read from `fd` (a regular file of `size` bytes; the worker
  // gets it read-only). `policy` is the caller's own copy of the policy the
  // worker loaded, used for the re-checks.
  Examined examine(Role role, const policy::Policy& policy, std::string_view channel, std::string_view name, int fd,
                   std::uint64_t size);

  // Many objects, answered in order, with requests sent ahead of the
  // answers; each object has its own time, counted from when the worker
  // reaches it. A failure is charged to the object the worker was on, and
  // the others go again to a fresh worker.
  struct WorkItem {
    std::string channel;
    std::string name;
    int fd = -1;
    std::uint64_t size = 0;
  };
  std::vector<Examined> examine_batch(Role role, const policy::Policy& policy, std::span<const WorkItem> items);

  // Starts a worker now (rather than on the first object), to report its
  // confinement and antivirus state at start-up; the problem if it fails.
  crypto::Status start();
  // Ends the worker process, if one runs.
  void stop();

  const WorkerStats& stats() const { return stats_; }
  // From the last worker's ready message.
  const std::string& confinement() const { return confinement_; }
  const std::string& antivirus() const { return antivirus_; }
  bool antivirus_loaded() const { return antivirus_loaded_; }
  pid_t pid() const { return pid_; }  // 0 when none runs

  std::chrono::milliseconds timeout_for(std::uint64_t size) const;

 private:
  crypto::Status spawn();
  crypto::Status start_process();
  bool should_retire();
  Examined check_answer(Role role, const policy::Policy& policy, const WorkItem& item, std::uint64_t seq,
                        detail::Packet& packet);
  // Waits for the process after its socket closed or it was killed; the
  // description of how it ended.
  std::string reap(bool killed);
  void discard(bool kill);

  WorkerOptions options_;
  WorkerPolicy policy_;
  fs::Fd sock_;
  pid_t pid_ = 0;
  std::string dir_;  // this worker's directory
  unsigned used_ = 0;
  unsigned cpu_checked_at_ = 0;  // used_ when the worker's CPU time was last read
  std::uint64_t seq_ = 0;
  WorkerStats stats_;
  std::string confinement_;
  std::string antivirus_;
  bool antivirus_loaded_ = false;
  std::vector<std::string> lists_;  // "name=sm3" of the term lists the worker read
};

// "ferry-worker" beside the running executable (/proc/self/exe).
std::string default_worker_program();

// Whether an object's first bytes are those its type must start with (PNG,
// JPEG and ZIP signatures exactly, "%PDF-" within 1024 bytes, and for text
// types none of those): the cheap check ferryd makes itself, with no
// parser, on what the worker was given and what it returned.
bool leads_as(policy::FileType type, std::string_view head);

}  // namespace ferry::sandbox

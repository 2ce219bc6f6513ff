// The worker's confinement ([disarm]; models: OpenSSH's privilege
// separation, Postfix's unprivileged services, dangerzone). Applied by the
// worker to itself once it has loaded everything it needs (policy, keyword
// matchers, libmagic's database, the antivirus engine) and before it reads
// its first object, in this order:
//
//   1. a new network namespace (no interfaces but a down loopback) and a
//      new mount namespace with a private tmpfs on its temporary directory:
//      as root directly, otherwise inside a new user namespace where the
//      kernel allows one;
//   2. chroot into its own temporary directory (as root, or in that user
//      namespace), so the only files it can name are its own;
//   3. as root: setgroups(0), setgid, setuid to the unprivileged user;
//   4. rlimits: RLIMIT_AS (what it uses now plus `memory`), RLIMIT_CPU (its
//      whole life; the client retires it well before), RLIMIT_FSIZE
//      (`max_output`), RLIMIT_NOFILE, RLIMIT_CORE 0;
//   5. PR_SET_NO_NEW_PRIVS and a seccomp filter that allows the system calls
//      parsing needs (memory, the two descriptors it is given, its temporary
//      directory for the antivirus engine, threads for a long keyword scan)
//      and kills the process on any other: no socket, no exec, no fork, no
//      ptrace, no executable memory.
//
// Steps 1 and 2 are best effort when not root and user namespaces are off
// (the seccomp filter still forbids sockets and exec); 3 to 5 must succeed
// or the worker refuses to serve. The description returned says exactly
// which steps took effect, for ferryd's start-up line and the audit.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/result.h"

namespace ferry::sandbox {

struct Confinement {
  std::string root;            // the worker's own directory; becomes "/" when chrooted
  std::string user = "nobody";  // when running as root
  std::uint64_t memory = std::uint64_t{1} << 30;
  std::uint64_t max_output = std::uint64_t{512} << 20;
  unsigned max_files = 256;
  unsigned cpu_seconds = 0;    // RLIMIT_CPU over the process's life; 0: none
};

struct Confined {
  std::string description;  // "user nobody, network namespace, chroot, rlimits (...), seccomp"
  bool chrooted = false;    // paths below `root` are now seen from "/"
};

// Step 1 to 5 on the calling process (single-threaded: the worker is).
crypto::Result<Confined> confine(const Confinement& c);

// The seccomp filter alone (step 5, with no_new_privs), for tests.
crypto::Status install_syscall_filter();

}  // namespace ferry::sandbox

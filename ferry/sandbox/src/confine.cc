#include "ferry/sandbox/confine.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace ferry::sandbox {
namespace {

using crypto::Errc;
using crypto::make_error;

std::string errno_text(int e) { return std::strerror(e); }

// Address space in use now (/proc/self/statm, first field, in pages): the
// libraries and databases loaded before confinement, which RLIMIT_AS must
// leave room for.
std::uint64_t address_space_now() {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return 0;
  unsigned long long pages = 0;
  if (std::fscanf(f, "%llu", &pages) != 1) pages = 0;
  std::fclose(f);
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

crypto::Status set_limit(int resource, rlim_t value, const char* name) {
  struct rlimit rl{value, value};
  if (::setrlimit(resource, &rl) != 0) {
    return make_error(Errc::internal, std::string("setrlimit ") + name + ": " + errno_text(errno));
  }
  return {};
}

bool write_text(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// What AddressSanitizer needs (terabytes of shadow mappings) RLIMIT_AS
// cannot give: sanitizer builds run the worker without that one limit.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

}  // namespace

crypto::Status install_syscall_filter() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return make_error(Errc::internal, "prctl(PR_SET_NO_NEW_PRIVS): " + errno_text(errno));
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) return make_error(Errc::internal, "seccomp_init failed");
  // The system calls the parsers, libclamav, the C and C++ runtimes and the
  // worker's loop make once everything is loaded. Names that do not exist
  // on this architecture (open, stat... on aarch64) are skipped.
  static constexpr std::string_view kAllowed[] = {
      // the two descriptors and the socket
      "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "recvmsg", "sendmsg",
      "fstat", "newfstatat", "fstatat64", "statx", "stat", "lstat", "fstatfs", "ftruncate", "fsync", "fdatasync",
      "fcntl", "dup", "dup2", "dup3", "memfd_create",
      // memory (mmap and mprotect: never executable, below)
      "brk", "munmap", "mremap", "madvise",
      // the antivirus engine's temporary files, inside the worker's own directory
      "openat", "open", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "getdents64", "access", "faccessat",
      "faccessat2", "readlink", "readlinkat", "getcwd", "umask", "rename", "renameat", "fchmod", "chmod",
      // time, identity, signals, exit
      "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep", "sched_yield",
      "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getppid", "uname", "sysinfo", "getrusage",
      "sched_getaffinity", "getrandom", "futex", "rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack",
      "tgkill", "tkill", "exit", "exit_group", "restart_syscall", "rseq", "set_robust_list", "get_robust_list",
      "membarrier",
  };
  int rc = 0;
  for (std::string_view name : kAllowed) {
    const int nr = seccomp_syscall_resolve_name(std::string(name).c_str());
    if (nr == __NR_SCMP_ERROR || nr < 0) continue;
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc != 0) break;
  }
  // Memory may be mapped and protected, never made executable: no JIT, no
  // shellcode made runnable (argument 2 is prot for both calls).
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  }
  // Limits may be read (the C library asks), never raised: prlimit64 with
  // no new limit only.
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0));
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getrlimit), 0);
  // Asked by stdio (isatty) and by libraries probing for a terminal or the
  // network: answered "no" rather than killed, since nothing is gained.
  // Threads, never processes: the keyword scan splits a long text over two
  // threads. clone is allowed only with CLONE_THREAD (fork and vfork lack
  // it); clone3 hides its flags in memory a filter cannot read, so it is
  // answered ENOSYS and the C library falls back to clone.
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  }
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0);
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 0);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return make_error(Errc::internal, "seccomp filter: " + errno_text(-rc));
  return {};
}

crypto::Result<Confined> confine(const Confinement& c) {
  Confined out;
  std::string said;
  auto say = [&](const std::string& s) { said += (said.empty() ? "" : ", ") + s; };
  const bool root = ::geteuid() == 0;

  uid_t uid = 0;
  gid_t gid = 0;
  if (root) {
    // Looked up before chroot: /etc/passwd is not inside.
    struct passwd* pw = ::getpwnam(c.user.c_str());
    if (pw == nullptr) return make_error(Errc::invalid_argument, "worker user '" + c.user + "' does not exist");
    if (pw->pw_uid == 0) return make_error(Errc::invalid_argument, "worker user '" + c.user + "' is root");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    if (::chown(c.root.c_str(), uid, gid) != 0) {
      return make_error(Errc::io, "chown " + c.root + ": " + errno_text(errno));
    }
    std::string tmp = c.root + "/tmp";
    if (::chown(tmp.c_str(), uid, gid) != 0 && errno != ENOENT) {
      return make_error(Errc::io, "chown " + tmp + ": " + errno_text(errno));
    }
  }

  // 1. Network and mount namespaces.
  bool in_userns = false;
  bool own_mounts = false;
  if (root) {
    if (::unshare(CLONE_NEWNET) == 0) say("network namespace");
    own_mounts = ::unshare(CLONE_NEWNS) == 0;
  } else {
    const uid_t outer_uid = ::getuid();
    const gid_t outer_gid = ::getgid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) == 0) {
      in_userns = true;
      own_mounts = true;
      // Map ourselves so that files we create keep our owner outside.
      write_text("/proc/self/setgroups", "deny");
      write_text("/proc/self/uid_map", std::to_string(outer_uid) + " " + std::to_string(outer_uid) + " 1");
      write_text("/proc/self/gid_map", std::to_string(outer_gid) + " " + std::to_string(outer_gid) + " 1");
      say("user and network namespaces");
    }
  }
  // The temporary files (the antivirus engine makes a directory per scan
  // and unpacks archive members there) on a tmpfs of the worker's own:
  // bounded in size, gone with the process, and a mkdir costs microseconds
  // instead of a journal commit. Mounts stay inside our mount namespace.
  if (own_mounts && !c.root.empty()) {
    const std::string tmp = c.root + "/tmp";
    // Its pages are memory RLIMIT_AS does not count: kept modest. An archive
    // the engine cannot unpack within it is not scanned (fail closed).
    const std::uint64_t size = std::clamp<std::uint64_t>(c.max_output, std::uint64_t{64} << 20, std::uint64_t{256} << 20);
    std::string options = "size=" + std::to_string(size) + ",mode=0700";
    if (root) options += ",uid=" + std::to_string(uid) + ",gid=" + std::to_string(gid);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
        ::mount("tmpfs", tmp.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str()) == 0) {
      say("private tmpfs for temporary files");
    }
  }

  // 2. chroot into the worker's own directory.
  if ((root || in_userns) && !c.root.empty()) {
    if (::chroot(c.root.c_str()) == 0 && ::chdir("/") == 0) {
      out.chrooted = true;
      say("chroot");
    } else if (root) {
      return make_error(Errc::io, "chroot " + c.root + ": " + errno_text(errno));
    }
  }
  if (!out.chrooted && !c.root.empty() && ::chdir(c.root.c_str()) != 0) {
    return make_error(Errc::io, "chdir " + c.root + ": " + errno_text(errno));
  }

  // 3. The unprivileged user.
  if (root) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) {
      return make_error(Errc::internal, "dropping to user '" + c.user + "': " + errno_text(errno));
    }
    if (::setuid(0) == 0) return make_error(Errc::internal, "could regain root after dropping privileges");
    say("user " + c.user);
  }

  // 4. Resource limits.
  std::string limits;
  if (!kAddressSanitizer) {
    const std::uint64_t as = address_space_now() + c.memory;
    if (crypto::Status s = set_limit(RLIMIT_AS, static_cast<rlim_t>(as), "RLIMIT_AS"); !s.ok()) return s.error();
    limits += "address space " + std::to_string(as >> 20) + " MiB";
  } else {
    limits += "no address-space limit (AddressSanitizer build)";
  }
  if (c.cpu_seconds > 0) {
    // SIGXCPU at the soft limit, SIGKILL a little later if that is ignored.
    struct rlimit rl{c.cpu_seconds, c.cpu_seconds + 5};
    if (::setrlimit(RLIMIT_CPU, &rl) != 0) return make_error(Errc::internal, "setrlimit RLIMIT_CPU: " + errno_text(errno));
    limits += ", CPU " + std::to_string(c.cpu_seconds) + " s";
  }
  if (crypto::Status s = set_limit(RLIMIT_FSIZE, static_cast<rlim_t>(c.max_output), "RLIMIT_FSIZE"); !s.ok()) {
    return s.error();
  }
  if (crypto::Status s = set_limit(RLIMIT_NOFILE, c.max_files, "RLIMIT_NOFILE"); !s.ok()) return s.error();
  if (crypto::Status s = set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE"); !s.ok()) return s.error();
  limits += ", files " + std::to_string(c.max_output >> 20) + " MiB, " + std::to_string(c.max_files) + " descriptors";
  say("rlimits (" + limits + ")");

  // 5. System calls.
  if (crypto::Status s = install_syscall_filter(); !s.ok()) return s.error();
  say("seccomp allow-list");
  out.description = said;
  return out;
}

}  // namespace ferry::sandbox

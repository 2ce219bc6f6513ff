#include "ferry/sandbox/serve.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "ferry/sandbox/confine.h"
#include "ferry/sandbox/src/packet.h"
#include "policy/policy.h"

namespace ferry::sandbox {
namespace {

// Reads a whole descriptor (the policy document), at most `max` bytes.
crypto::Result<std::string> read_all(int fd, std::size_t max) {
  std::string out;
  char buf[65536];
  if (::lseek(fd, 0, SEEK_SET) < 0) return crypto::make_error(crypto::Errc::io, std::strerror(errno));
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return crypto::make_error(crypto::Errc::io, std::strerror(errno));
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max) {
      return crypto::make_error(crypto::Errc::exhausted, "policy document too large");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

int refuse(int sock, const std::string& problem) {
  Ready r;
  r.problem = problem;
  detail::send_packet(sock, encode(r));
  return 2;
}

// One object of every kind the rules read, examined once before the file
// system goes away: ICU's normalisation and converter data, libmagic's
// text tests and the XML/JSON/CSV parsers are loaded on first use.
void warm_up(const Examiner& examiner) {
  static constexpr std::string_view kSamples[][2] = {
      {"warm-up.txt", "ferry warm-up \xe4\xb8\xad\xe6\x96\x87 \xef\xbc\x91\n"},
      {"warm-up.csv", "a,b\n1,2\n"},
      {"warm-up.json", "{\"a\": [1, \"b\"]}\n"},
      {"warm-up.xml", "<?xml version=\"1.0\"?><a b=\"c\">d</a>\n"},
      {"warm-up.txt", "\xd6\xd0\xce\xc4\xb2\xe2\xca\xd4 gb18030 \xa3\xb1\n"},
      {"warm-up.txt", "\xff\xfe" "a\0b\0\n\0"},
  };
  for (const policy::Channel& ch : examiner.policy().channels) {
    for (const auto& s : kSamples) {
      std::string out;
      (void)examiner.examine(Role::send, ch.name, s[0], s[1], &out);
      (void)examiner.examine(Role::receive, ch.name, s[0], s[1], nullptr);
    }
  }
}

// Empty when a plain text and 64 KiB of pseudo-random bytes both scan
// clean; else what fired.
std::string false_positive(const antivirus::Scanner& scanner) {
  std::string noise(64 * 1024, '\0');
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x & 0xff);
  }
  const std::pair<const char*, std::string> samples[] = {
      {"a plain text", "ferry antivirus test scan: an ordinary notice, not malware.\n"},
      {"random bytes", noise},
  };
  for (const auto& [what, bytes] : samples) {
    const antivirus::Verdict v = scanner.scan(bytes, what);
    if (v.kind == antivirus::Verdict::infected) return std::string(what) + " matches '" + v.signature + "'";
  }
  return {};
}

int serve(int sock, const ExamineFn& examine) {
  detail::Packet p;
  if (int e = detail::receive_packet(sock, p); e != 0) return 3;
  crypto::Result<Setup> setup = decode_setup(p.bytes);
  if (!setup.ok() || p.fds.size() != 1) return refuse(sock, "bad setup message");
  crypto::Result<std::string> text = read_all(p.fds[0].get(), policy::kMaxPolicyFileSize);
  if (!text.ok()) return refuse(sock, "reading the policy: " + text.error().message);
  p.fds.clear();

  policy::PolicyLoad load = policy::load_policy_text(*text, setup->policy_name, setup->policy_dir);
  if (!load.ok()) {
    std::string problems;
    for (const policy::Diagnostic& d : load.errors) problems += (problems.empty() ? "" : "; ") + d.message;
    return refuse(sock, "the policy does not load in the worker: " + problems);
  }
  Ready ready;
  ready.policy_sm3 = load.policy->sm3;
  ready.policy_serial = load.policy->serial;
  for (const policy::TermList& l : load.policy->lists) {
    if (l.file) ready.list_digests.push_back(l.name + "=" + crypto::to_hex(l.file->sm3));
  }

  // The worker's own directory; the engine's temporary files go in tmp/.
  const std::string tmp = setup->temp_dir + "/tmp";
  if (::mkdir(tmp.c_str(), 0700) != 0 && errno != EEXIST) {
    return refuse(sock, "creating " + tmp + ": " + std::strerror(errno));
  }
  std::unique_ptr<antivirus::Scanner> scanner;
  std::string av_problem;
  if (!setup->av_database.empty()) {
    antivirus::ScannerOptions options;
    options.max_age = std::chrono::hours(setup->av_max_age_hours);
    crypto::Result<std::unique_ptr<antivirus::Scanner>> s = antivirus::Scanner::load(setup->av_database, options);
    if (s.ok()) {
      // The database came through the boundary as files: before it judges
      // anything it must call plain text and random bytes clean, or every
      // object would be held as malware (antivirus::test_database's rule).
      if (std::string fp = false_positive(**s); !fp.empty()) {
        av_problem = "the antivirus database in " + setup->av_database + " fails its test scan: " + fp;
        ready.antivirus = av_problem;
      } else {
        scanner = std::move(*s);
        const antivirus::DatabaseInfo& db = scanner->database();
        ready.antivirus = std::to_string(db.signatures) + " signatures from " + db.directory;
        if (!scanner->stale().empty()) ready.antivirus += " (" + scanner->stale() + ")";
        ready.antivirus_loaded = true;
      }
    } else {
      av_problem = "the antivirus database did not load: " + s.error().message;
      ready.antivirus = av_problem;
    }
  } else {
    av_problem = "no antivirus database is configured (antivirus.database)";
    ready.antivirus = av_problem;
  }
  crypto::Result<std::unique_ptr<Examiner>> examiner =
      Examiner::create(*load.policy, std::move(scanner), av_problem, disarm::Limits{});
  if (!examiner.ok()) return refuse(sock, examiner.error().message);
  warm_up(**examiner);

  Confinement c;
  c.root = setup->temp_dir;
  c.user = setup->user;
  c.memory = setup->memory;
  c.max_output = setup->max_output;
  c.cpu_seconds = setup->cpu_seconds;
  crypto::Result<Confined> confined = confine(c);
  if (!confined.ok()) return refuse(sock, "confinement failed: " + confined.error().message);
  // Without chroot the file system is ferryd's user's to write: a parser
  // exploited by one object could change the spool. ferryd does not accept
  // that; ferryctl inspect (an officer's dry run) may.
  if (setup->require_chroot && !confined->chrooted) {
    return refuse(sock, "no chroot is possible here (run ferryd as root, or allow unprivileged user namespaces: "
                        "sysctl kernel.unprivileged_userns_clone=1); confinement was: " + confined->description);
  }
  // Seen from inside the chroot, the directory is "/tmp".
  if (crypto::Status s = (*examiner)->set_av_temp_dir(confined->chrooted ? "/tmp" : tmp); !s.ok()) {
    return refuse(sock, "antivirus temporary directory: " + s.error().message);
  }
  ready.confinement = confined->description;
  if (detail::send_packet(sock, encode(ready)) != 0) return 3;

  std::string small;  // objects up to kReadLimit are read, larger ones mapped
  constexpr std::uint64_t kReadLimit = 1 << 20;
  for (;;) {
    if (int e = detail::receive_packet(sock, p); e != 0) return e == ECONNRESET ? 0 : 3;
    crypto::Result<Request> req = decode_request(p.bytes);
    if (!req.ok() || p.fds.size() != 1) return 3;
    const int in_fd = p.fds[0].get();
    struct stat st;
    if (::fstat(in_fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != req->size) return 3;
    void* map = nullptr;
    std::string_view bytes;
    if (req->size <= kReadLimit) {
      // A read is cheaper than a mapping for a small object (no page-table
      // work, no TLB shootdown on unmap).
      small.resize(static_cast<std::size_t>(req->size));
      std::size_t got = 0;
      while (got < small.size()) {
        const ssize_t n = ::pread(in_fd, small.data() + got, small.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 3;
        got += static_cast<std::size_t>(n);
      }
      bytes = small;
    } else {
      map = ::mmap(nullptr, static_cast<std::size_t>(req->size), PROT_READ, MAP_PRIVATE, in_fd, 0);
      if (map == MAP_FAILED) return 3;
      bytes = std::string_view(static_cast<const char*>(map), static_cast<std::size_t>(req->size));
    }
    std::string output;
    Answer a = examine ? examine(**examiner, *req, bytes, &output)
                       : (*examiner)->examine(req->role, req->channel, req->name, bytes, &output);
    if (map != nullptr) ::munmap(map, static_cast<std::size_t>(req->size));
    p.fds.clear();
    if (a.seq == 0) a.seq = req->seq;  // the examiner leaves it to us
    if (!a.has_output) {
      if (detail::send_packet(sock, encode(a)) != 0) return 3;
      continue;
    }
    // The rebuilt object: a memory file of its own, sealed so that what
    // ferryd checks is what it sends.
    fs::Fd out(::memfd_create("ferry-rebuilt", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!out.valid() || !write_all(out.get(), output) ||
        ::fcntl(out.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
      return 3;
    }
    if (detail::send_packet(sock, encode(a), {out.get()}) != 0) return 3;
  }
}

}  // namespace

int serve_worker(int socket_fd, const ExamineFn& examine) {
  try {
    return serve(socket_fd, examine);
  } catch (const std::bad_alloc&) {
    // The address-space limit: said by the exit status, since the heap
    // may have no room left for a message.
    return kExitOutOfMemory;
  }
}

}  // namespace ferry::sandbox

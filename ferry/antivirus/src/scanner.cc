#include "ferry/antivirus/scanner.h"

#include <clamav.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>

#include "ferry/antivirus/src/signature_files.h"
#include "ferry/fs/fd.h"

namespace ferry::antivirus {

using crypto::Errc;
using crypto::make_error;

namespace {

// libclamav reports why a signature file is refused ("Malformed hash string
// at line 3", "Can't load /db/local.hdb") only through its message callback;
// cl_load itself returns a bare CL_EMALFDB. While a database loads, this
// thread's messages are collected so the error can name the file. At any
// other time they are dropped: during a scan they describe hostile input in
// the attacker's words, and the verdict already carries the outcome.
thread_local std::string* t_load_messages = nullptr;

void collect_message(enum cl_msg severity, const char* /*fullmsg*/, const char* msg, void* /*context*/) {
  if (t_load_messages == nullptr || severity < CL_MSG_WARN || msg == nullptr) return;
  std::string_view m(msg);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.remove_suffix(1);
  if (m.empty()) return;
  if (!t_load_messages->empty()) *t_load_messages += "; ";
  t_load_messages->append(m);
}

class CollectLoadMessages {
 public:
  CollectLoadMessages() { t_load_messages = &messages_; }
  ~CollectLoadMessages() { t_load_messages = nullptr; }
  CollectLoadMessages(const CollectLoadMessages&) = delete;
  CollectLoadMessages& operator=(const CollectLoadMessages&) = delete;
  const std::string& messages() const { return messages_; }

 private:
  std::string messages_;
};

// cl_init sets up libclamav's process-wide state (crypto, the message
// callback); it must run once, before any engine exists.
crypto::Status init_libclamav() {
  static std::once_flag once;
  static cl_error_t rc = CL_SUCCESS;
  std::call_once(once, [] {
    cl_set_clcb_msg(collect_message);
    rc = cl_init(CL_INIT_DEFAULT);
  });
  if (rc != CL_SUCCESS) return make_error(Errc::internal, std::string("libclamav cl_init: ") + cl_strerror(rc));
  return {};
}

std::string with_details(std::string message, const std::string& details) {
  if (!details.empty()) message += " (libclamav: " + details + ")";
  return message;
}

Errc load_error_code(cl_error_t rc) {
  switch (rc) {
    case CL_EOPEN:
    case CL_ESTAT:
    case CL_EREAD:
    case CL_EACCES:
      return Errc::io;
    case CL_EMEM:
      return Errc::internal;
    default:
      return Errc::bad_format;
  }
}

struct SignatureFiles {
  unsigned count = 0;
  std::chrono::system_clock::time_point newest;
};

// The signature files of `directory` and the newest one's mtime (the age of
// a database without a CVD build time). Errors are the directory's.
crypto::Result<SignatureFiles> list_signature_files(const std::string& directory) {
  fs::Fd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return make_error(Errc::io, "antivirus database " + directory + ": " + std::strerror(errno));
  }
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) return make_error(Errc::io, "antivirus database " + directory + ": " + std::strerror(errno));
  fd.release();  // closedir closes it
  SignatureFiles out;
  errno = 0;
  int err = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (!is_signature_file(e->d_name)) continue;
    struct stat st;
    if (::fstatat(::dirfd(dir), e->d_name, &st, 0) != 0) {
      err = errno;
      break;
    }
    if (!S_ISREG(st.st_mode)) continue;
    ++out.count;
    const auto since_epoch = std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
    const std::chrono::system_clock::time_point mtime(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
    if (out.count == 1 || mtime > out.newest) out.newest = mtime;
  }
  if (err == 0) err = errno;
  ::closedir(dir);
  if (err != 0) return make_error(Errc::io, "antivirus database " + directory + ": " + std::strerror(err));
  return out;
}


long long whole_days(std::chrono::system_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::hours>(d).count() / 24;
}

std::string describe_hours(std::chrono::hours h) {
  if (h.count() % 24 == 0) return std::to_string(h.count() / 24) + " days";
  return std::to_string(h.count()) + " hours";
}

crypto::Status set_limit(cl_engine* engine, cl_engine_field field, std::uint64_t value, const char* what) {
  const long long v = value > static_cast<std::uint64_t>(LLONG_MAX) ? LLONG_MAX : static_cast<long long>(value);
  if (cl_error_t rc = cl_engine_set_num(engine, field, v); rc != CL_SUCCESS) {
    return make_error(Errc::invalid_argument, std::string("antivirus: cannot set ") + what + " to " +
                                                  std::to_string(value) + ": " + cl_strerror(rc));
  }
  return {};
}

Verdict not_scanned(std::string detail) { return Verdict{Verdict::not_scanned, {}, std::move(detail)}; }

// The bytes test_database scans: ordinary content no sane database flags.
constexpr std::string_view kCleanText = "ferry antivirus test: this is not malware\n";

std::string pseudo_random_bytes(std::size_t size) {
  // Fixed seed: the same bytes on every run and every host, so a refusal
  // can be reproduced.
  std::mt19937_64 rng(0x6665727279ULL);  // "ferry"
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; i += 8) {
    std::uint64_t v = rng();
    for (std::size_t j = 0; j < 8 && i + j < size; ++j, v >>= 8) out[i + j] = static_cast<char>(v & 0xff);
  }
  return out;
}

}  // namespace

std::string format_utc(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}


struct Scanner::Engine {
  cl_engine* engine = nullptr;
  ScannerOptions options;

  Engine() = default;
  ~Engine() {
    if (engine != nullptr) cl_engine_free(engine);
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
};

Scanner::~Scanner() = default;

crypto::Result<std::unique_ptr<Scanner>> Scanner::load(const std::string& directory, const ScannerOptions& options) {
  if (crypto::Status s = init_libclamav(); !s.ok()) return s.error();

  crypto::Result<SignatureFiles> files = list_signature_files(directory);
  if (!files.ok()) return files.error();
  if (files->count == 0) {
    return make_error(Errc::io, "no signatures in " + directory + " (no ClamAV signature file: " +
                                    std::string(signature_extensions()) + ")");
  }

  auto engine = std::make_unique<Engine>();
  engine->options = options;
  engine->engine = cl_engine_new();
  if (engine->engine == nullptr) return make_error(Errc::internal, "libclamav: cl_engine_new failed");
  cl_engine* e = engine->engine;

  if (crypto::Status s = set_limit(e, CL_ENGINE_MAX_FILESIZE, options.max_file_size, "max_file_size"); !s.ok()) {
    return s.error();
  }
  if (crypto::Status s = set_limit(e, CL_ENGINE_MAX_SCANSIZE, options.max_scan_size, "max_scan_size"); !s.ok()) {
    return s.error();
  }
  if (crypto::Status s = set_limit(e, CL_ENGINE_MAX_RECURSION, options.max_recursion, "max_recursion"); !s.ok()) {
    return s.error();
  }
  if (crypto::Status s = set_limit(e, CL_ENGINE_MAX_FILES, options.max_files, "max_files"); !s.ok()) {
    return s.error();
  }
  // The worker's seccomp filter refuses executable memory, so bytecode
  // signatures must never reach the JIT; the interpreter needs none.
  if (crypto::Status s = set_limit(e, CL_ENGINE_BYTECODE_MODE, CL_BYTECODE_MODE_INTERPRETER, "bytecode mode");
      !s.ok()) {
    return s.error();
  }
  // Archive members written to the temp directory must not outlive the scan.
  if (crypto::Status s = set_limit(e, CL_ENGINE_KEEPTMP, 0, "keeptmp"); !s.ok()) return s.error();

  unsigned signatures = 0;
  {
    CollectLoadMessages messages;
    if (cl_error_t rc = cl_load(directory.c_str(), e, &signatures, CL_DB_STDOPT); rc != CL_SUCCESS) {
      return make_error(load_error_code(rc), with_details("cannot load antivirus database " + directory + ": " +
                                                              cl_strerror(rc),
                                                          messages.messages()));
    }
    if (signatures == 0) return make_error(Errc::bad_format, "no signatures in " + directory);
    if (cl_error_t rc = cl_engine_compile(e); rc != CL_SUCCESS) {
      return make_error(load_error_code(rc), with_details("cannot compile antivirus database " + directory + ": " +
                                                              cl_strerror(rc),
                                                          messages.messages()));
    }
  }

  std::unique_ptr<Scanner> scanner(new Scanner());
  scanner->info_.directory = directory;
  scanner->info_.signatures = signatures;
  int err = CL_SUCCESS;
  // A CVD's header carries its build time; plain signature files (.hdb,
  // .ndb, ...) carry none, so their newest mtime stands in.
  const long long db_time = cl_engine_get_num(e, CL_ENGINE_DB_TIME, &err);
  scanner->info_.built = (err == CL_SUCCESS && db_time > 0)
                             ? std::chrono::system_clock::from_time_t(static_cast<std::time_t>(db_time))
                             : files->newest;
  const long long db_version = cl_engine_get_num(e, CL_ENGINE_DB_VERSION, &err);
  if (err == CL_SUCCESS && db_version > 0) scanner->info_.version = std::to_string(db_version);

  if (options.max_age.count() > 0) {
    const auto age = std::chrono::system_clock::now() - scanner->info_.built;
    if (age > options.max_age) {
      scanner->stale_ = "antivirus database " + directory + " is " + std::to_string(whole_days(age)) +
                        " days old (built " + format_utc(scanner->info_.built) + "); the limit is " +
                        describe_hours(options.max_age);
    }
  }
  scanner->engine_ = std::move(engine);
  return scanner;
}

crypto::Status Scanner::set_temp_dir(const std::string& directory) {
  struct stat st;
  if (::stat(directory.c_str(), &st) != 0) {
    return make_error(Errc::io, "antivirus temp directory " + directory + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return make_error(Errc::io, "antivirus temp directory " + directory + ": not a directory");
  if (cl_error_t rc = cl_engine_set_str(engine_->engine, CL_ENGINE_TMPDIR, directory.c_str()); rc != CL_SUCCESS) {
    return make_error(Errc::internal, "antivirus temp directory " + directory + ": " + cl_strerror(rc));
  }
  if (cl_error_t rc = cl_engine_set_num(engine_->engine, CL_ENGINE_KEEPTMP, 0); rc != CL_SUCCESS) {
    return make_error(Errc::internal, std::string("antivirus keeptmp: ") + cl_strerror(rc));
  }
  return {};
}

Verdict Scanner::scan(std::string_view bytes, std::string_view name) const {
  if (!stale_.empty()) return not_scanned(stale_);
  const ScannerOptions& limits = engine_->options;
  const std::string limits_text = "max_file_size " + std::to_string(limits.max_file_size) + " bytes, max_scan_size " +
                                  std::to_string(limits.max_scan_size) + " bytes, max_recursion " +
                                  std::to_string(limits.max_recursion) + ", max_files " +
                                  std::to_string(limits.max_files);
  // libclamav skips (and, with EXCEEDS_MAX, flags) a top-level object over
  // max_file_size; saying so here does not depend on how it reports that.
  if (bytes.size() > limits.max_file_size) {
    return not_scanned("over the scanner's limits: " + std::to_string(bytes.size()) + " bytes (" + limits_text + ")");
  }
  // An empty object holds nothing to match, and cl_fmap_open_memory refuses
  // a zero length.
  if (bytes.empty()) return Verdict{Verdict::clean, {}, {}};

  cl_fmap_t* map = cl_fmap_open_memory(bytes.data(), bytes.size());
  if (map == nullptr) return not_scanned("antivirus: cannot map " + std::string(name) + " for scanning");

  // Every parser on: the brief's archive/OLE2/PDF/HTML/mail are the minimum,
  // and signatures in the official databases also target PE and ELF
  // sections, XML documents, SWF, HWP and OneNote files, which libclamav only
  // recognises with their parsers enabled (clamscan's default too).
  cl_scan_options options{};
  options.parse = CL_SCAN_PARSE_ARCHIVE | CL_SCAN_PARSE_ELF | CL_SCAN_PARSE_PDF | CL_SCAN_PARSE_SWF |
                  CL_SCAN_PARSE_HWP3 | CL_SCAN_PARSE_XMLDOCS | CL_SCAN_PARSE_MAIL | CL_SCAN_PARSE_OLE2 |
                  CL_SCAN_PARSE_HTML | CL_SCAN_PARSE_PE | CL_SCAN_PARSE_ONENOTE | CL_SCAN_PARSE_IMAGE;
  // An object the engine could not scan whole must not pass as clean.
  options.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;

  const std::string filename(name);
  const char* virname = nullptr;
  unsigned long scanned = 0;
  const cl_error_t rc =
      cl_scanmap_callback(map, filename.c_str(), &virname, &scanned, engine_->engine, &options, nullptr);
  // virname points into the engine or the scan context: copy before close.
  const std::string signature = (rc == CL_VIRUS && virname != nullptr) ? std::string(virname) : std::string();
  cl_fmap_close(map);

  switch (rc) {
    case CL_CLEAN:
      return Verdict{Verdict::clean, {}, {}};
    case CL_VIRUS:
      if (signature.starts_with("Heuristics.Limits.Exceeded")) {
        return not_scanned("over the scanner's limits: " + signature + " (" + limits_text + ")");
      }
      // The name is kept as libclamav reports it: a signature from a file
      // outside a signed CVD ends in ".UNOFFICIAL", which tells the audit
      // trail that a local rule, not the vendor's, held the object.
      return Verdict{Verdict::infected, signature.empty() ? std::string("(unnamed signature)") : signature, {}};
    case CL_EMAXREC:
    case CL_EMAXSIZE:
    case CL_EMAXFILES:
    case CL_ETIMEOUT:
      return not_scanned(std::string("over the scanner's limits: ") + cl_strerror(rc) + " (" + limits_text + ")");
    default:
      return not_scanned(std::string("antivirus engine error: ") + cl_strerror(rc));
  }
}

crypto::Result<DatabaseInfo> test_database(const std::string& directory, const ScannerOptions& options) {
  // Age does not decide whether the signatures are sane: a stale database
  // would answer not_scanned below and hide a false positive.
  ScannerOptions fresh = options;
  fresh.max_age = std::chrono::hours{0};
  crypto::Result<std::unique_ptr<Scanner>> scanner = Scanner::load(directory, fresh);
  if (!scanner.ok()) return scanner.error();

  struct Probe {
    std::string_view what;
    std::string bytes;
  };
  const Probe probes[] = {
      {"a plain text", std::string(kCleanText)},
      {"64 KiB of pseudo-random bytes", pseudo_random_bytes(64 * 1024)},
  };
  for (const Probe& p : probes) {
    const Verdict v = (*scanner)->scan(p.bytes, "ferry-database-test");
    if (v.kind == Verdict::clean) continue;
    if (v.kind == Verdict::infected) {
      return make_error(Errc::verify_failed, "antivirus database " + directory + ": signature " + v.signature +
                                                 " matches " + std::string(p.what) +
                                                 ", so it would hold every object");
    }
    return make_error(Errc::verify_failed, "antivirus database " + directory + ": " + std::string(p.what) +
                                               " could not be scanned: " + v.detail);
  }
  return (*scanner)->database();
}

}  // namespace ferry::antivirus

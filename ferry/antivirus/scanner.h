// Antivirus ([disarm]): libclamav, one engine per sandboxed worker, loaded
// from the signature directory the config names (`antivirus.database`).
// Signatures reach an air-gapped network as files through an inbound
// channel; nothing here downloads anything.
//
// A scan's verdict is one of:
//   clean        the engine scanned every byte and matched nothing;
//   infected     a signature matched (its name goes in `signature`);
//   not_scanned  the object could not be judged: no database, a database
//                older than the configured age, over the scanner's size or
//                recursion limits, or an engine error. With
//                `antivirus: required`, not_scanned never passes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace ferry::antivirus {

struct Verdict {
  enum Kind { clean, infected, not_scanned };
  Kind kind = not_scanned;
  std::string signature;  // infected: the signature's name ("Eicar-Test-Signature")
  std::string detail;     // not_scanned: why, in the operator's terms
};

struct ScannerOptions {
  // A database whose newest signature is older than this scans nothing
  // (every verdict is not_scanned, saying how old it is). Zero: no limit.
  std::chrono::hours max_age{std::chrono::hours{24 * 30}};
  // The engine's own limits (CL_ENGINE_MAX_FILESIZE, MAX_SCANSIZE,
  // MAX_RECURSION, MAX_FILES); an object over them is not_scanned.
  std::uint64_t max_file_size = std::uint64_t{200} << 20;
  std::uint64_t max_scan_size = std::uint64_t{800} << 20;
  unsigned max_recursion = 16;
  unsigned max_files = 10000;
};

struct DatabaseInfo {
  std::string directory;
  unsigned signatures = 0;                            // as cl_load counted them
  std::chrono::system_clock::time_point built;        // CVD build time, or the newest file's mtime
  std::string version;                                // CVD version if any ("daily 27000"), else ""
};

// "2026-11-27 10:23 UTC": how a database's build time is shown.
std::string format_utc(std::chrono::system_clock::time_point t);

class Scanner {
 public:
  // Loads and compiles every signature file of `directory` (cl_load with
  // the standard options, bytecode in interpreter mode only). Errors name
  // the directory and libclamav's message: a missing or empty directory,
  // an unreadable or malformed signature file.
  static crypto::Result<std::unique_ptr<Scanner>> load(const std::string& directory,
                                                       const ScannerOptions& options = {});
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Scans bytes held in memory (archives inside are unpacked by the engine
  // into its temporary directory, see set_temp_dir). `name` is for messages.
  Verdict scan(std::string_view bytes, std::string_view name) const;

  const DatabaseInfo& database() const { return info_; }
  // Non-empty when the database is loaded but too old to be trusted; every
  // scan is then not_scanned with this as its detail.
  const std::string& stale() const { return stale_; }

  // Where the engine writes archive members while it scans (the worker's
  // own directory). Must exist and be writable.
  crypto::Status set_temp_dir(const std::string& directory);

 private:
  Scanner() = default;
  struct Engine;
  std::unique_ptr<Engine> engine_;
  DatabaseInfo info_;
  std::string stale_;
};

// The test scan a new database must pass before it replaces the old one
// (`ferryctl av update`, and the daemon on SIGHUP): it loads, it compiles,
// a plain text scans clean and a file of random bytes scans clean (a
// database that calls those malware would hold every object). Returns what
// was loaded, or the reason the database is refused.
crypto::Result<DatabaseInfo> test_database(const std::string& directory, const ScannerOptions& options = {});

// `ferryctl av update FROM`: test FROM's signature files, then install them
// as `database` atomically: copied into a sibling directory, fsynced, and
// exchanged with the old one in one renameat2(RENAME_EXCHANGE); the old
// database is removed only after the exchange. A refused update leaves
// `database` exactly as it was.
crypto::Result<DatabaseInfo> install_database(const std::string& from, const std::string& database,
                                              const ScannerOptions& options = {});

}  // namespace ferry::antivirus

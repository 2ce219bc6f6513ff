// ferry-audit-bench ([audit] benchmark): what the tamper-evident log costs.
//
//   append   records/s through AuditLog as ferryd drives it: a checkpoint
//            (SM2 signature) every 1000 records, sync() every 64 records
//            (fdatasync and a signed head seal). Baseline: write() and SM3 of
//            the very same lines to a plain file, fdatasync every 64 lines:
//            the ratio is the price of formatting, checkpoints and the seal.
//   verify   records/s of verify_log with the key over that log. Baseline:
//            SM3 of the same lines in memory: the ratio is the price of
//            reading, parsing and checking the chain and the signatures.
//
// Both figures are measured in the same run as their baselines, in a temp
// directory on the file system TMPDIR names; ratios are what carry across
// machines.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench/best_of.h"
#include "bench/result_table.h"
#include "crypto/sm2.h"
#include "crypto/sm3.h"
#include "ferry/audit/log.h"
#include "ferry/audit/segments.h"
#include "ferry/audit/verify.h"

namespace {

using ferry::bench::best_of_3;
namespace audit = ferry::audit;
namespace crypto = ferry::crypto;

constexpr int kRecords = 20000;
constexpr int kSyncEvery = 64;

int failures = 0;
void fail(const std::string& what) {
  std::fprintf(stderr, "ferry-audit-bench: %s\n", what.c_str());
  ++failures;
}

audit::Event object_event(int i) {
  audit::Event e{"object.delivered", audit::Severity::info, {}};
  e.with("channel", "docs")
      .with("object", "00112233445566778899aabbccddeeff")
      .with("name", "report-" + std::to_string(i) + ".pdf")
      .with("size", std::to_string(100000 + i))
      .with("sm3", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  return e;
}

void append_run(const std::string& dir, const crypto::Sm2PrivateKey& key) {
  std::filesystem::remove_all(dir);
  audit::LogOptions o;
  o.dir = dir;
  o.side = "outer";
  o.checkpoint_records = 1000;
  o.checkpoint_interval = std::chrono::hours(24);
  auto log = audit::AuditLog::open(o, key);
  if (!log.ok()) return fail(log.error().message);
  const auto t0 = std::chrono::system_clock::now();
  for (int i = 0; i < kRecords; ++i) {
    if (!(*log)->append(object_event(i), t0).ok()) return fail("append failed");
    if (i % kSyncEvery == kSyncEvery - 1 && !(*log)->sync().ok()) return fail("sync failed");
  }
  if (!(*log)->sync().ok()) fail("sync failed");
}

std::vector<std::string> lines_of(const std::string& dir) {
  std::vector<std::string> out;
  crypto::Result<std::vector<audit::Segment>> segments = audit::list_segments(dir);
  if (!segments.ok()) {
    fail(segments.error().message);
    return out;
  }
  for (const audit::Segment& s : *segments) {
    std::ifstream in(s.path, std::ios::binary);
    for (std::string l; std::getline(in, l);) out.push_back(l + "\n");
  }
  return out;
}

void raw_run(const std::string& path, const std::vector<std::string>& lines) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return fail(path + ": cannot create");
  crypto::Sm3Digest sink{};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    sink = crypto::Sm3::digest(crypto::as_bytes(lines[i]));
    if (::write(fd, lines[i].data(), lines[i].size()) != static_cast<ssize_t>(lines[i].size())) fail("write failed");
    if (i % kSyncEvery == kSyncEvery - 1) ::fdatasync(fd);
  }
  ::fdatasync(fd);
  ::close(fd);
  if (sink[0] == 0 && sink[1] == 0 && sink[2] == 0 && sink[3] == 0) std::fputs("", stdout);  // keep the digests
}

}  // namespace

int main() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-audit-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::string dir = tmpl + "/audit";
  crypto::Result<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::generate();
  if (!key.ok()) {
    std::fprintf(stderr, "ferry-audit-bench: %s\n", key.error().message.c_str());
    return 2;
  }

  const double append_s = best_of_3([&] { append_run(dir, *key); });
  const std::vector<std::string> lines = lines_of(dir);
  const double raw_s = best_of_3([&] { raw_run(tmpl + "/raw.jsonl", lines); });

  std::uint64_t verified = 0;
  const double verify_s = best_of_3([&] {
    const audit::VerifyReport r = audit::verify_log(dir, key->public_key());
    if (!r.ok) fail("verify: " + (r.problem ? r.problem->what : std::string("not intact")));
    verified = r.records;
  });
  const double sm3_s = best_of_3([&] {
    crypto::Sm3Digest d{};
    for (const std::string& l : lines) d = crypto::Sm3::digest(crypto::as_bytes(l));
    if (d[0] == 1 && d[1] == 2) std::fputs("", stdout);
  });

  const double n = static_cast<double>(lines.size());
  if (verified != lines.size()) fail("verify saw " + std::to_string(verified) + " of " + std::to_string(lines.size()));
  std::vector<ferry::bench::TableRow> rows;
  rows.push_back({"append (cp/1000, sync/64)", "AuditLog::append+sync", n / append_s, "write()+SM3, fdatasync/64",
                  n / raw_s, ferry::bench::Unit::operations_per_second, std::nullopt,
                  std::to_string(lines.size()) + " records"});
  rows.push_back({"verify with key", "verify_log", static_cast<double>(verified) / verify_s, "SM3 of the same lines",
                  n / sm3_s, ferry::bench::Unit::operations_per_second, std::nullopt,
                  std::to_string(lines.size()) + " records"});
  ferry::bench::print_table(std::cout, "ferry-audit-bench: records per second (best of 3)", rows);
  std::filesystem::remove_all(tmpl);
  return failures == 0 ? 0 : 1;
}

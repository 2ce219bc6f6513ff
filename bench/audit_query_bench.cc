// ferry-audit-query-bench: the audit index over half a year of a busy side.
//
// Generates 10,000,000 records (180 days, 4 channels, the event mix of a
// side moving documents, file names as people write them) once into a
// cache directory, reused while complete; builds the index from scratch and
// times it; then times the assessor's everyday question, one channel over
// one day, against the requirement (under 0.5 s, best of 5), beside the
// same SQL answered by a full scan of the table (NOT INDEXED) in the same
// run. Exits non-zero when the requirement fails.
//
//   ferry-audit-query-bench [--data DIR] [--records N] [--keep-index]
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ferry/audit/record.h"
#include "ferry/audit/segments.h"
#include "ferry/auditdb/index.h"
#include "ferry/auditdb/when.h"

namespace {

using namespace ferry;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kDefaultRecords = 10'000'000;
constexpr std::uint64_t kRecordsPerSegment = 250'000;  // ~80 MiB, as the log rotates by size
constexpr int kDays = 180;
constexpr char kFirstDay[] = "2026-05-31";
constexpr double kRequiredSeconds = 0.5;
// Bumped whenever generate() changes, so a cached trail of another make is
// generated again rather than measured.
constexpr int kGeneratorVersion = 2;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Deterministic, so every run of the bench sees the same trail.
struct Rng {
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

constexpr const char* kChannels[] = {"docs-outbound", "mail-relay", "gov-data-exchange", "web-upload"};
constexpr const char* kStems[] = {"关于开展网络安全检查工作的通知", "2026年第三季度财务报表", "会议纪要",
                                  "项目申报书_终稿", "quarterly-report", "meeting-notes", "scan", "合同扫描件",
                                  "政务数据共享目录", "人员名单(内部)", "budget FY2026 draft", "IMG"};
constexpr const char* kExtensions[] = {".pdf", ".docx", ".xlsx", ".ofd", ".jpg", ".png", ".txt", ".zip", ".docm"};
constexpr const char* kTypes[] = {"pdf", "docx", "xlsx", "ofd", "jpeg", "png", "text", "zip", "docm"};
// A side has a handful of officers and policy signing keys, not one per record.
constexpr const char* kOfficers[] = {"secadmin:3f9a0c1d77e2b845", "secadmin:a41be09c5d3f7720", "auditadmin:0c5e19d2a8b7f364"};
constexpr const char* kSigners[] = {"policyadmin:9d2e7f01c4a8b356", "policyadmin:51c0a9e3d7f2b684"};
constexpr const char* kReasons[] = {"macro", "keyword", "av", "type_mismatch", "encrypted_archive", "personal_data",
                                    "size", "policy_denied"};

std::string hex32(Rng& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(32, '0');
  for (std::size_t i = 0; i < 32; i += 16) {
    std::uint64_t v = rng.next();
    for (std::size_t k = 0; k < 16; ++k) s[i + k] = kHex[(v >> (4 * k)) & 15];
  }
  return s;
}

std::string timestamp(std::int64_t ms) {
  return audit::format_timestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

// The records of one object's life, or one event of the side, appended to
// `out`: most objects are ingested, accepted and sent; some are refused or
// quarantined; some wait for an officer.
void next_events(Rng& rng, std::vector<audit::Record>& out) {
  const std::uint64_t roll = rng.below(1000);
  const std::string channel = kChannels[rng.below(4)];
  if (roll < 12) {
    static constexpr const char* kLink[] = {"link.rekeyed", "link.down", "link.up", "link.handshake_failed",
                                            "link.transport_down"};
    out.push_back({0, "", "outer", "notice", kLink[rng.below(5)], {{"channel", channel}, {"detail", "peer 10.1.2.3"}},
                   "", ""});
    return;
  }
  if (roll < 14) {
    out.push_back({0, "", "outer", "info", roll == 12 ? "selftest.passed" : "policy.reloaded",
                   {{"serial", std::to_string(rng.below(500))}, {"signer", kSigners[rng.below(2)]}},
                   "", ""});
    return;
  }
  const std::string object = hex32(rng);
  const std::size_t ext = rng.below(std::size(kExtensions));
  const std::string name = std::string(kStems[rng.below(std::size(kStems))]) + "_" +
                           std::to_string(rng.below(10000)) + kExtensions[ext];
  const std::string size = std::to_string(1024 + rng.below(8 << 20));
  const std::string sm3 = hex32(rng) + hex32(rng);
  out.push_back({0, "", "outer", "info", "object.ingested",
                 {{"channel", channel}, {"object", object}, {"name", name}, {"size", size}, {"sm3", sm3}}, "", ""});
  if (roll < 100) {
    const char* event = roll < 70 ? "object.refused" : "object.quarantined";
    const std::string reason = kReasons[rng.below(std::size(kReasons))];
    out.push_back({0, "", "outer", "warning", event,
                   {{"channel", channel}, {"object", object}, {"name", name}, {"verdict", "rejected"},
                    {"reason", reason}, {"reasons", reason}, {"type", kTypes[ext]}},
                   "", ""});
    return;
  }
  if (roll < 130) {
    out.push_back({0, "", "outer", "notice", "object.pending",
                   {{"channel", channel}, {"object", object}, {"name", name}, {"verdict", "pending"},
                    {"reasons", "keyword"}}, "", ""});
    const bool approve = rng.below(4) != 0;
    out.push_back({0, "", "outer", "notice", approve ? "object.approved" : "object.rejected",
                   {{"channel", channel}, {"object", object}, {"verdict", approve ? "approved" : "rejected"},
                    {"actor", kOfficers[rng.below(3)]}}, "", ""});
    if (!approve) return;
  } else {
    out.push_back({0, "", "outer", "info", "object.accepted",
                   {{"channel", channel}, {"object", object}, {"name", name}, {"size", size}, {"verdict", "accepted"},
                    {"type", kTypes[ext]}, {"direction", "outbound"}}, "", ""});
  }
  out.push_back({0, "", "outer", "info", "object.sent",
                 {{"channel", channel}, {"object", object}, {"size", size}, {"direction", "outbound"}}, "", ""});
}

std::uint64_t dir_bytes(const std::string& dir, bool segments_only) {
  std::uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const bool segment = audit::parse_segment_name(e.path().filename().string()).has_value();
    if (segment == segments_only) total += e.file_size();
  }
  return total;
}

// Writes `records` records as segment files with a correct hash chain.
bool generate(const std::string& dir, std::uint64_t records) {
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(dir)) std::filesystem::remove(e.path());
  const std::int64_t start_ms = *auditdb::parse_day(kFirstDay);
  const double step_ms = static_cast<double>(kDays) * auditdb::kMsPerDay / static_cast<double>(records);
  Rng rng;
  std::string prev(audit::kGenesisHash);
  std::vector<audit::Record> pending;
  std::FILE* out = nullptr;
  std::string buffer;
  for (std::uint64_t seq = 1; seq <= records; ++seq) {
    if ((seq - 1) % kRecordsPerSegment == 0) {
      if (out != nullptr && std::fclose(out) != 0) return false;
      out = std::fopen((dir + "/" + audit::segment_name(seq)).c_str(), "wb");
      if (out == nullptr) return false;
    }
    if (pending.empty()) {
      next_events(rng, pending);
      std::reverse(pending.begin(), pending.end());
    }
    audit::Record r = std::move(pending.back());
    pending.pop_back();
    r.seq = seq;
    r.ts = timestamp(start_ms + static_cast<std::int64_t>(static_cast<double>(seq) * step_ms));
    r.prev = prev;
    buffer = audit::format_record(r);
    buffer += '\n';
    prev = r.hash;
    if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size()) return false;
    if (seq % 1'000'000 == 0) std::fprintf(stderr, "  generated %llu records\n", static_cast<unsigned long long>(seq));
  }
  if (out != nullptr && std::fclose(out) != 0) return false;
  std::ofstream(dir + "/complete") << records << " " << kGeneratorVersion << "\n";
  return true;
}

bool complete(const std::string& dir, std::uint64_t records) {
  std::ifstream in(dir + "/complete");
  std::uint64_t n = 0;
  int version = 0;
  return (in >> n >> version) && n == records && version == kGeneratorVersion;
}

// The same question as the index query, with the planner forbidden the
// indexes: what it costs without them.
double full_scan_seconds(const std::string& index_path, std::int64_t since, std::int64_t until,
                         const std::string& channel, std::uint64_t& rows) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(index_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT seq, ts_ms, event, channel, object, name, verdict, severity, size, line FROM records "
                     "NOT INDEXED WHERE ts_ms >= ? AND ts_ms < ? AND channel = ? ORDER BY seq",
                     -1, &st, nullptr);
  sqlite3_bind_int64(st, 1, since);
  sqlite3_bind_int64(st, 2, until);
  sqlite3_bind_text(st, 3, channel.c_str(), -1, SQLITE_TRANSIENT);
  const auto start = Clock::now();
  rows = 0;
  std::string keep;
  while (sqlite3_step(st) == SQLITE_ROW) {
    keep.assign(reinterpret_cast<const char*>(sqlite3_column_text(st, 9)));
    ++rows;
  }
  const double s = seconds_since(start);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return s;
}

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = FERRY_BENCH_DATA_DIR;
  std::uint64_t records = kDefaultRecords;
  bool keep_index = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--records" && i + 1 < argc) {
      records = std::stoull(argv[++i]);
    } else if (a == "--keep-index") {
      keep_index = true;
    } else {
      std::fprintf(stderr, "usage: ferry-audit-query-bench [--data DIR] [--records N] [--keep-index]\n");
      return 2;
    }
  }

  std::printf("audit trail: %s\n", dir.c_str());
  double generate_s = 0;
  if (complete(dir, records)) {
    std::printf("  reusing %llu records generated earlier\n", static_cast<unsigned long long>(records));
  } else {
    std::printf("  generating %llu records over %d days ...\n", static_cast<unsigned long long>(records), kDays);
    std::fflush(stdout);
    const auto start = Clock::now();
    if (!generate(dir, records)) {
      std::fprintf(stderr, "generating the trail in %s failed: %s\n", dir.c_str(), std::strerror(errno));
      return 1;
    }
    generate_s = seconds_since(start);
    std::printf("  generated in %.1f s\n", generate_s);
  }

  const std::string index_path = dir + "/" + auditdb::kIndexFileName;
  if (!keep_index) {
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((index_path + suffix).c_str());
  }
  auto start = Clock::now();
  crypto::Result<auditdb::AuditIndex> index = auditdb::AuditIndex::open(dir);
  if (!index) {
    std::fprintf(stderr, "%s\n", index.error().message.c_str());
    return 1;
  }
  crypto::Result<auditdb::UpdateReport> built = index->update();
  if (!built) {
    std::fprintf(stderr, "%s\n", built.error().message.c_str());
    return 1;
  }
  const double build_s = seconds_since(start);
  std::printf("index %s: %llu records added in %.1f s (%.0f records/s), %llu lines skipped\n",
              built->rebuilt ? "built" : "updated", static_cast<unsigned long long>(built->records_added), build_s,
              static_cast<double>(built->records_added) / build_s, static_cast<unsigned long long>(built->bad_lines));

  start = Clock::now();
  crypto::Result<auditdb::AuditIndex> again = auditdb::AuditIndex::open(dir);
  if (!again || !again->update()) return 1;
  const double noop_update_s = seconds_since(start);

  // Day 90 of 180, the second channel: a day in the middle of the trail.
  const std::int64_t since = *auditdb::parse_day(kFirstDay) + 90 * auditdb::kMsPerDay;
  const std::int64_t until = since + auditdb::kMsPerDay;
  auditdb::Filter filter;
  filter.since_ms = since;
  filter.until_ms = until;
  filter.channel = kChannels[1];
  double best = 1e9;
  std::uint64_t rows = 0;
  for (int r = 0; r < 5; ++r) {
    start = Clock::now();
    crypto::Result<std::vector<auditdb::Row>> got = index->query(filter);
    best = std::min(best, seconds_since(start));
    if (!got) return 1;
    rows = got->size();
  }
  double scan_best = 1e9;
  std::uint64_t scan_rows = 0;
  for (int r = 0; r < 3; ++r) scan_best = std::min(scan_best, full_scan_seconds(index_path, since, until, kChannels[1], scan_rows));

  const std::uint64_t segment_bytes = dir_bytes(dir, true);
  const std::uint64_t index_bytes = dir_bytes(dir, false);
  const bool pass = best < kRequiredSeconds && rows == scan_rows;

  std::printf("\n%-44s %12s %14s %8s  %s\n", "measurement", "ours", "baseline", "ratio", "check");
  std::printf("%-44s %10.4f s %12.3f s %7.0fx  %s\n",
              ("one channel, one day (" + auditdb::day_of(since) + ", " + kChannels[1] + ")").c_str(), best,
              scan_best, scan_best / best,
              pass ? "PASS (< 0.5 s, best of 5; baseline best of 3)" : "FAIL (>= 0.5 s or rows differ)");
  std::printf("%-44s %12llu %14llu\n", "  rows returned (index / full scan)", static_cast<unsigned long long>(rows),
              static_cast<unsigned long long>(scan_rows));
  std::printf("%-44s %10.1f s %14s %8s  %s\n", "index build from scratch", build_s, "", "",
              (std::to_string(built->records_added) + " records").c_str());
  std::printf("%-44s %10.4f s %14s %8s  %s\n", "open + update with nothing new", noop_update_s, "", "",
              "what every ferryctl query pays first");
  if (generate_s > 0) std::printf("%-44s %10.1f s\n", "trail generation", generate_s);
  std::printf("%-44s %12s %14s\n", "disk: segments / index.sqlite", mib(segment_bytes).c_str(),
              mib(index_bytes).c_str());
  return pass ? 0 : 1;
}

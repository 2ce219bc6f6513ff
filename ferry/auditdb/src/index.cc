#include "ferry/auditdb/index.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <string_view>
#include <utility>
#include <type_traits>

#include "ferry/audit/record.h"
#include "ferry/audit/segments.h"

namespace ferry::auditdb {

namespace {

using crypto::Errc;
using crypto::make_error;

// Bump when the tables change: an index of another version is rebuilt.
constexpr int kSchemaVersion = 1;

// Text columns hold "" for a missing field so that equality filters need no
// NULL handling; size stays NULL when absent or not a number.
constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS segments("
    "  first_seq INTEGER PRIMARY KEY,"
    "  indexed_bytes INTEGER NOT NULL,"  // bytes of complete lines taken
    "  tail_offset INTEGER NOT NULL,"    // where the last taken line starts
    "  tail BLOB NOT NULL);"             // that line, to notice a rewrite
    "CREATE TABLE IF NOT EXISTS records("
    "  seq INTEGER PRIMARY KEY,"
    "  ts_ms INTEGER NOT NULL,"
    "  event TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  object TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  verdict TEXT NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  size INTEGER,"
    "  line TEXT NOT NULL);";

// The questions assessors ask: one channel over a period, a period, one
// object's history, one kind of event over a period. Created after a bulk
// load rather than maintained row by row through it, which is several
// times faster for a fresh build.
constexpr char kIndexes[] =
    "CREATE INDEX IF NOT EXISTS records_channel_ts ON records(channel, ts_ms);"
    "CREATE INDEX IF NOT EXISTS records_ts ON records(ts_ms);"
    "CREATE INDEX IF NOT EXISTS records_object ON records(object);"
    "CREATE INDEX IF NOT EXISTS records_event_ts ON records(event, ts_ms);";

constexpr std::size_t kReadChunk = 4 << 20;

crypto::Error db_error(sqlite3* db, const std::string& what) {
  return make_error(Errc::io, what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  crypto::Status prepare(sqlite3* db, std::string_view sql) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) {
      return db_error(db, "index: preparing a statement");
    }
    return {};
  }
  sqlite3_stmt* get() const { return stmt_; }

  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, std::string_view v) {
    // SQLite binds a null pointer as NULL; an empty field is "".
    sqlite3_bind_text(stmt_, i, v.data() != nullptr ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data() != nullptr ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_null(int i) { sqlite3_bind_null(stmt_, i); }

  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::string blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

crypto::Status exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg != nullptr ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return make_error(Errc::io, std::string("index: ") + text);
  }
  return {};
}

crypto::Result<int> user_version(sqlite3* db) {
  Statement s;
  if (crypto::Status st = s.prepare(db, "PRAGMA user_version"); !st) return st.error();
  if (sqlite3_step(s.get()) != SQLITE_ROW) return db_error(db, "index: reading the schema version");
  return static_cast<int>(s.int64(0));
}

std::optional<std::uint64_t> decimal(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

struct SegmentMark {
  std::uint64_t indexed_bytes = 0;
  std::uint64_t tail_offset = 0;
  std::string tail;
};

// Reads [from, to) of a file.
crypto::Result<std::string> read_range(int fd, const std::string& path, std::uint64_t from, std::uint64_t to) {
  std::string out(static_cast<std::size_t>(to - from), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(Errc::io, path + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

struct AuditIndex::State {
  std::string dir;
  std::string path;
  sqlite3* db = nullptr;

  ~State() { sqlite3_close_v2(db); }

  crypto::Status reset_tables() {
    if (crypto::Status s = exec(db, "DROP TABLE IF EXISTS records; DROP TABLE IF EXISTS segments;"); !s) return s;
    if (crypto::Status s = exec(db, kSchema); !s) return s;
    return exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
  }

  crypto::Result<std::map<std::uint64_t, SegmentMark>> marks() {
    Statement s;
    if (crypto::Status st = s.prepare(db, "SELECT first_seq, indexed_bytes, tail_offset, tail FROM segments"); !st) {
      return st.error();
    }
    std::map<std::uint64_t, SegmentMark> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      out[static_cast<std::uint64_t>(s.int64(0))] =
          SegmentMark{static_cast<std::uint64_t>(s.int64(1)), static_cast<std::uint64_t>(s.int64(2)), s.blob(3)};
    }
    if (rc != SQLITE_DONE) return db_error(db, "index: reading segment marks");
    return out;
  }

  // Why the index no longer describes the segments, or "" when it still does.
  std::string stale_reason(const std::vector<audit::Segment>& segments,
                           const std::map<std::uint64_t, SegmentMark>& marks) {
    std::map<std::uint64_t, const audit::Segment*> listed;
    for (const audit::Segment& s : segments) listed[s.first_seq] = &s;
    const std::uint64_t newest_marked = marks.empty() ? 0 : marks.rbegin()->first;
    for (const auto& [first, mark] : marks) {
      auto it = listed.find(first);
      if (it == listed.end()) return audit::segment_name(first) + " vanished";
      const audit::Segment& seg = *it->second;
      if (seg.size < mark.indexed_bytes) return audit::segment_name(first) + " shrank";
      if (mark.indexed_bytes == 0) continue;
      const Fd fd(::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.get() < 0) return audit::segment_name(first) + " cannot be read";
      crypto::Result<std::string> tail = read_range(fd.get(), seg.path, mark.tail_offset, mark.indexed_bytes);
      if (!tail || *tail != mark.tail) return audit::segment_name(first) + " was rewritten";
    }
    for (const audit::Segment& s : segments) {
      if (!marks.contains(s.first_seq) && s.first_seq < newest_marked) {
        return s.path + " appeared before the newest indexed segment";
      }
    }
    return "";
  }

  // Indexes the complete lines of `seg` from mark.indexed_bytes on, and
  // moves the mark past them.
  crypto::Status index_segment(const audit::Segment& seg, SegmentMark& mark, Statement& insert,
                               UpdateReport& report) {
    const Fd fd(::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return make_error(Errc::io, seg.path + ": " + std::strerror(errno));
    std::string pending;  // the start of a line not yet ended by '\n'
    std::uint64_t pending_at = mark.indexed_bytes;
    bool overlong = false;  // skipping the rest of a line longer than a record may be
    std::uint64_t pos = mark.indexed_bytes;
    std::string chunk(kReadChunk, '\0');
    for (;;) {
      ssize_t n = ::pread(fd.get(), chunk.data(), chunk.size(), static_cast<off_t>(pos));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return make_error(Errc::io, seg.path + ": " + std::strerror(errno));
      if (n == 0) break;
      report.bytes_read += static_cast<std::uint64_t>(n);
      std::string_view data(chunk.data(), static_cast<std::size_t>(n));
      std::size_t start = 0;
      while (start < data.size()) {
        const std::size_t nl = data.find('\n', start);
        if (nl == std::string_view::npos) {
          if (!overlong) pending.append(data.substr(start));
          if (pending.size() > audit::kMaxRecordBytes) {
            overlong = true;
            pending.clear();
          }
          break;
        }
        std::string_view line = data.substr(start, nl - start);
        if (!pending.empty()) {
          pending.append(line);
          line = pending;
        }
        const std::uint64_t line_at = pending.empty() ? pos + start : pending_at;
        if (overlong) {
          ++report.bad_lines;
        } else if (crypto::Status s = take(line, insert, report); !s) {
          return s;
        }
        mark.tail_offset = line_at;
        mark.tail.assign(line);
        mark.tail += '\n';
        mark.indexed_bytes = pos + nl + 1;
        overlong = false;
        pending.clear();
        start = nl + 1;
        pending_at = pos + start;
      }
      pos += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  crypto::Status take(std::string_view line, Statement& insert, UpdateReport& report) {
    crypto::Result<audit::Record> r = audit::parse_record(line);
    if (!r) {
      ++report.bad_lines;
      return {};
    }
    auto field = [&](std::string_view key) -> std::string_view {
      const std::string* v = r->get(key);
      return v != nullptr ? std::string_view(*v) : std::string_view();
    };
    sqlite3_stmt* st = insert.get();
    sqlite3_reset(st);
    insert.bind(1, static_cast<std::int64_t>(r->seq));
    insert.bind(2, *audit::parse_timestamp(r->ts));  // parse_record checked the form
    insert.bind(3, std::string_view(r->event));
    insert.bind(4, field("channel"));
    insert.bind(5, field("object"));
    insert.bind(6, field("name"));
    insert.bind(7, field("verdict"));
    insert.bind(8, std::string_view(r->severity));
    if (std::optional<std::uint64_t> size = decimal(field("size"))) {
      insert.bind(9, static_cast<std::int64_t>(*size));
    } else {
      insert.bind_null(9);
    }
    insert.bind(10, line);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(db, "index: inserting seq " + std::to_string(r->seq));
    ++report.records_added;
    return {};
  }
};

AuditIndex::AuditIndex(std::unique_ptr<State> state) : state_(std::move(state)) {}
AuditIndex::AuditIndex(AuditIndex&&) noexcept = default;
AuditIndex& AuditIndex::operator=(AuditIndex&&) noexcept = default;
AuditIndex::~AuditIndex() = default;

const std::string& AuditIndex::path() const { return state_->path; }

crypto::Result<AuditIndex> AuditIndex::open(const std::string& audit_dir) {
  struct stat st;
  if (::stat(audit_dir.c_str(), &st) != 0) return make_error(Errc::io, audit_dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return make_error(Errc::io, audit_dir + ": not a directory");
  auto state = std::make_unique<State>();
  state->dir = audit_dir;
  state->path = audit_dir + "/" + kIndexFileName;
  // Two tries: an index SQLite cannot read is a broken cache, so it goes.
  for (int attempt = 0; attempt < 2; ++attempt) {
    sqlite3_close_v2(state->db);
    state->db = nullptr;
    const bool existed = ::access(state->path.c_str(), F_OK) == 0;
    if (sqlite3_open_v2(state->path.c_str(), &state->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      return db_error(state->db, state->path);
    }
    // File names in the records are not for other users of the host.
    if (!existed) ::chmod(state->path.c_str(), 0600);
    sqlite3_busy_timeout(state->db, 30000);
    // A cache: losing the last transaction to a power cut costs a rebuild,
    // not evidence, so no fsync. The rollback journal (not WAL) keeps a
    // fresh bulk build to one write of each page.
    crypto::Status pragmas = exec(state->db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;");
    crypto::Result<int> version = pragmas ? user_version(state->db) : crypto::Result<int>(pragmas.error());
    if (version) {
      if (*version == 0) {
        if (crypto::Status s = state->reset_tables(); !s) return s.error();
      }
      return AuditIndex(std::move(state));
    }
    if (attempt == 0) {
      sqlite3_close_v2(state->db);
      state->db = nullptr;
      for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((state->path + suffix).c_str());
      continue;
    }
    return version.error();
  }
  return make_error(Errc::io, state->path + ": cannot be opened");
}

crypto::Result<UpdateReport> AuditIndex::update() {
  State& s = *state_;
  UpdateReport report;
  crypto::Result<std::vector<audit::Segment>> segments = audit::list_segments(s.dir);
  if (!segments) return segments.error();
  report.segments = segments->size();

  if (crypto::Status st = exec(s.db, "BEGIN IMMEDIATE"); !st) return st.error();
  auto fail = [&](crypto::Error e) -> crypto::Result<UpdateReport> {
    // The failure being reported matters more than whether the rollback
    // also failed; an unfinished transaction is undone when the file is
    // next opened either way.
    (void)exec(s.db, "ROLLBACK");
    return e;
  };

  crypto::Result<int> version = user_version(s.db);
  if (!version) return fail(version.error());
  std::map<std::uint64_t, SegmentMark> marks;
  if (*version != kSchemaVersion) {
    report.rebuilt = true;
    report.rebuild_reason = "schema version " + std::to_string(*version) + ", this build writes " +
                            std::to_string(kSchemaVersion);
  } else {
    crypto::Result<std::map<std::uint64_t, SegmentMark>> m = s.marks();
    if (!m) return fail(m.error());
    marks = std::move(*m);
    if (marks.empty()) {
      report.rebuilt = !segments->empty();
      report.rebuild_reason = report.rebuilt ? "new index" : "";
    } else if (std::string why = s.stale_reason(*segments, marks); !why.empty()) {
      report.rebuilt = true;
      report.rebuild_reason = why;
    }
  }
  if (report.rebuilt) {
    marks.clear();
    if (crypto::Status st = s.reset_tables(); !st) return fail(st.error());
  }

  Statement insert;
  // OR REPLACE: a seq seen twice (a duplicated segment) keeps the later copy
  // rather than stopping the index; verify is the one to object.
  if (crypto::Status st = insert.prepare(s.db,
                                         "INSERT OR REPLACE INTO records(seq, ts_ms, event, channel, object, name, "
                                         "verdict, severity, size, line) VALUES (?,?,?,?,?,?,?,?,?,?)");
      !st) {
    return fail(st.error());
  }
  Statement save_mark;
  if (crypto::Status st = save_mark.prepare(
          s.db, "INSERT OR REPLACE INTO segments(first_seq, indexed_bytes, tail_offset, tail) VALUES (?,?,?,?)");
      !st) {
    return fail(st.error());
  }
  for (const audit::Segment& seg : *segments) {
    SegmentMark& mark = marks[seg.first_seq];
    if (seg.size == mark.indexed_bytes) continue;
    if (crypto::Status st = s.index_segment(seg, mark, insert, report); !st) return fail(st.error());
    sqlite3_reset(save_mark.get());
    save_mark.bind(1, static_cast<std::int64_t>(seg.first_seq));
    save_mark.bind(2, static_cast<std::int64_t>(mark.indexed_bytes));
    save_mark.bind(3, static_cast<std::int64_t>(mark.tail_offset));
    save_mark.bind_blob(4, mark.tail);
    if (sqlite3_step(save_mark.get()) != SQLITE_DONE) return fail(db_error(s.db, "index: saving a segment mark"));
  }
  if (crypto::Status st = exec(s.db, kIndexes); !st) return fail(st.error());
  if (crypto::Status st = exec(s.db, "COMMIT"); !st) return fail(st.error());
  return report;
}

crypto::Status AuditIndex::scan(const Filter& filter, const std::function<bool(const Row&)>& visit) {
  std::string sql =
      "SELECT seq, ts_ms, event, channel, object, name, verdict, severity, size, line FROM records WHERE 1";
  // A value to bind: text, or a number when `text` is unset.
  struct Param {
    std::int64_t number = 0;
    std::optional<std::string> text;
  };
  std::vector<Param> params;
  auto where = [&](const char* cond, const auto& v) {
    sql += " AND ";
    sql += cond;
    if constexpr (std::is_integral_v<std::decay_t<decltype(v)>>) {
      params.push_back(Param{v, std::nullopt});
    } else {
      params.push_back(Param{0, std::string(v)});
    }
  };
  if (filter.since_ms) where("ts_ms >= ?", *filter.since_ms);
  if (filter.until_ms) where("ts_ms < ?", *filter.until_ms);
  if (filter.channel) where("channel = ?", *filter.channel);
  if (filter.event) {
    const std::string& e = *filter.event;
    if (!e.empty() && e.back() == '.') {
      // A range rather than LIKE, so the (event, ts_ms) index serves it:
      // every string starting "object." sorts in ["object.", "object/").
      std::string upper = e;
      upper.back() = '/';
      where("event >= ?", e);
      where("event < ?", upper);
    } else {
      where("event = ?", e);
    }
  }
  if (filter.verdict) where("verdict = ?", *filter.verdict);
  if (filter.object) where("object = ?", *filter.object);
  if (filter.name) where("instr(name, ?) > 0", *filter.name);
  sql += " ORDER BY seq";
  if (filter.limit) {
    sql += " LIMIT ?";
    params.push_back(Param{static_cast<std::int64_t>(std::min<std::uint64_t>(*filter.limit, INT64_MAX)), std::nullopt});
  }

  Statement q;
  if (crypto::Status st = q.prepare(state_->db, sql); !st) return st;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i + 1);
    if (params[i].text) {
      q.bind(at, std::string_view(*params[i].text));
    } else {
      q.bind(at, params[i].number);
    }
  }
  int rc;
  Row row;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    row.seq = static_cast<std::uint64_t>(q.int64(0));
    row.ts_ms = q.int64(1);
    row.event = q.text(2);
    row.channel = q.text(3);
    row.object = q.text(4);
    row.name = q.text(5);
    row.verdict = q.text(6);
    row.severity = q.text(7);
    row.size = q.is_null(8) ? std::nullopt : std::optional<std::uint64_t>(static_cast<std::uint64_t>(q.int64(8)));
    row.line = q.text(9);
    if (!visit(row)) return {};
  }
  if (rc != SQLITE_DONE) return db_error(state_->db, "index: query");
  return {};
}

crypto::Result<std::vector<Row>> AuditIndex::query(const Filter& filter) {
  std::vector<Row> rows;
  crypto::Status st = scan(filter, [&](const Row& r) {
    rows.push_back(r);
    return true;
  });
  if (!st) return st.error();
  return rows;
}

crypto::Result<std::uint64_t> AuditIndex::count() {
  Statement s;
  if (crypto::Status st = s.prepare(state_->db, "SELECT count(*) FROM records"); !st) return st.error();
  if (sqlite3_step(s.get()) != SQLITE_ROW) return db_error(state_->db, "index: count");
  return static_cast<std::uint64_t>(s.int64(0));
}

}  // namespace ferry::auditdb

#include "ferry/audit/record.h"

#include <cstdio>
#include <ctime>

#include "crypto/bytes.h"
#include "ferry/audit/json.h"

namespace ferry::audit {

namespace {

constexpr std::string_view kHashKey = ",\"hash\":\"";

crypto::Error bad(std::size_t at, const std::string& what) {
  return crypto::make_error(crypto::Errc::bad_format, "byte " + std::to_string(at) + ": " + what);
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The reading half of json_string: a JSON string at line[pos] (the opening
// quote), decoded. \u00XX stands for the byte XX (json_string writes bytes
// that are not valid UTF-8 so); the canonical-form check in parse_record
// refuses every other spelling.
std::optional<std::string> read_string(std::string_view line, std::size_t& pos) {
  if (pos >= line.size() || line[pos] != '"') return std::nullopt;
  std::string out;
  for (std::size_t i = pos + 1; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"') {
      pos = i + 1;
      return out;
    }
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= line.size()) return std::nullopt;
    switch (line[i]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        if (i + 4 >= line.size() || line.substr(i + 1, 2) != "00") return std::nullopt;
        std::optional<crypto::Bytes> b = crypto::from_hex(line.substr(i + 3, 2));
        if (!b) return std::nullopt;
        out += static_cast<char>((*b)[0]);
        i += 4;
        break;
      }
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

bool reserved(std::string_view key) {
  return key == "seq" || key == "ts" || key == "side" || key == "severity" || key == "event" || key == "prev" ||
         key == "hash";
}

std::string body_of(const Record& r) {
  std::string line = "{\"seq\":" + std::to_string(r.seq) + ",\"ts\":" + json_string(r.ts) +
                     ",\"side\":" + json_string(r.side) + ",\"severity\":" + json_string(r.severity) +
                     ",\"event\":" + json_string(r.event);
  for (const auto& [k, v] : r.fields) line += "," + json_string(k) + ":" + json_string(v);
  line += ",\"prev\":" + json_string(r.prev);
  return line;
}

}  // namespace

const std::string* Record::get(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string format_timestamp(std::chrono::system_clock::time_point when) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char ts[96];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return ts;
}

std::optional<std::int64_t> parse_timestamp(std::string_view ts) {
  // YYYY-MM-DDTHH:MM:SS.mmmZ, exactly.
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != kShape.size()) return std::nullopt;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (kShape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != kShape[i]) return std::nullopt;
  }
  auto num = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v * 10 + (ts[at + i] - '0');
    return v;
  };
  const int year = num(0, 4), month = num(5, 2), day = num(8, 2), hour = num(11, 2), minute = num(14, 2),
            second = num(17, 2), milli = num(20, 3);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  const auto days = std::chrono::sys_days(ymd).time_since_epoch().count();
  return ((static_cast<std::int64_t>(days) * 24 + hour) * 60 + minute) * 60000 + std::int64_t{second} * 1000 + milli;
}

std::string format_record(Record& record) {
  std::string line = body_of(record);
  record.hash = crypto::to_hex(crypto::Sm3::digest(crypto::as_bytes(line)));
  line += std::string(kHashKey) + record.hash + "\"}";
  return line;
}

std::optional<crypto::Sm3Digest> body_hash(std::string_view line) {
  const std::size_t suffix = kHashKey.size() + 64 + 2;
  if (line.size() < suffix || line.substr(line.size() - suffix, kHashKey.size()) != kHashKey) return std::nullopt;
  return crypto::Sm3::digest(crypto::as_bytes(line.substr(0, line.size() - suffix)));
}

crypto::Result<Record> parse_record(std::string_view line) {
  if (line.size() > kMaxRecordBytes) return bad(kMaxRecordBytes, "longer than a record may be");
  if (line.empty() || line[0] != '{') return bad(0, "not a JSON object");
  Record r;
  std::size_t pos = 1;
  std::size_t index = 0;
  bool closed = false;
  std::vector<std::pair<std::string, std::string>> all;
  while (pos < line.size()) {
    const std::size_t key_at = pos;
    std::optional<std::string> key = read_string(line, pos);
    if (!key) return bad(key_at, "a key that is not a JSON string");
    if (pos >= line.size() || line[pos] != ':') return bad(pos, "':' expected after a key");
    ++pos;
    if (index == 0) {
      if (*key != "seq") return bad(key_at, "the first key must be \"seq\"");
      const std::size_t start = pos;
      std::uint64_t v = 0;
      while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return bad(start, "seq out of range");
        v = v * 10 + static_cast<std::uint64_t>(line[pos] - '0');
        ++pos;
      }
      if (pos == start || (line[start] == '0') || v == 0) return bad(start, "seq must be a positive integer");
      r.seq = v;
    } else {
      const std::size_t value_at = pos;
      std::optional<std::string> value = read_string(line, pos);
      if (!value) return bad(value_at, "a value that is not a JSON string");
      all.emplace_back(std::move(*key), std::move(*value));
    }
    ++index;
    if (pos < line.size() && line[pos] == ',') {
      ++pos;
      continue;
    }
    if (pos < line.size() && line[pos] == '}') {
      closed = ++pos == line.size();
      if (!closed) return bad(pos, "bytes after the object");
      break;
    }
    return bad(pos, "',' or '}' expected");
  }
  if (!closed) return bad(line.size(), "the object is not closed (a torn line?)");
  static constexpr std::string_view kHead[] = {"ts", "side", "severity", "event"};
  if (all.size() < 6) return bad(0, "too few keys: seq, ts, side, severity, event, prev and hash are required");
  for (std::size_t i = 0; i < 4; ++i) {
    if (all[i].first != kHead[i]) return bad(0, "key " + std::to_string(i + 2) + " must be \"" + std::string(kHead[i]) + "\"");
  }
  if (all[all.size() - 2].first != "prev" || all.back().first != "hash") {
    return bad(0, "the last two keys must be \"prev\" and \"hash\"");
  }
  r.ts = std::move(all[0].second);
  r.side = std::move(all[1].second);
  r.severity = std::move(all[2].second);
  r.event = std::move(all[3].second);
  r.prev = std::move(all[all.size() - 2].second);
  r.hash = std::move(all.back().second);
  for (std::size_t i = 4; i + 2 < all.size(); ++i) {
    if (reserved(all[i].first)) return bad(0, "field \"" + all[i].first + "\" may appear only in its place");
    r.fields.push_back(std::move(all[i]));
  }
  if (!parse_timestamp(r.ts)) return bad(0, "ts is not a UTC timestamp with milliseconds");
  if (r.event.empty()) return bad(0, "event is empty");
  if (!is_hex64(r.prev)) return bad(0, "prev is not 64 lower-case hex digits");
  if (!is_hex64(r.hash)) return bad(0, "hash is not 64 lower-case hex digits");
  const std::string body = body_of(r);
  if (line.size() != body.size() + kHashKey.size() + 64 + 2 || line.substr(0, body.size()) != body) {
    return bad(0, "not in the canonical form ferry writes");
  }
  if (crypto::to_hex(crypto::Sm3::digest(crypto::as_bytes(body))) != r.hash) {
    return bad(0, "hash is not the SM3 of the record (the record was altered)");
  }
  return r;
}

}  // namespace ferry::audit

#include <cassert>
#include <cstdio>
#include <ctime>

#include "ferry/audit/event.h"
#include "ferry/audit/json.h"
#include "ferry/audit/record.h"
#include "ferry/audit/log.h"

namespace ferry::audit {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629 §4: no
// overlongs, no surrogates, nothing above U+10FFFF).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n <= 1 || i + n > s.size()) return n == 1 ? 1 : 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  if (n == 2 && c < 0xC2) return 0;
  if (n == 3 && ((c == 0xE0 && b(i + 1) < 0xA0) || (c == 0xED && b(i + 1) >= 0xA0))) return 0;
  if (n == 4 && ((c == 0xF0 && b(i + 1) < 0x90) || c > 0xF4 || (c == 0xF4 && b(i + 1) >= 0x90))) return 0;
  return n;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const std::size_t n = utf8_length(s, i);
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    char buf[8];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7F) {
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string to_json_line(const Event& event, std::string_view side, std::chrono::system_clock::time_point when) {
  const std::string ts = format_timestamp(when);
  static constexpr const char* kSeverity[] = {"info", "notice", "warning", "error"};
  std::string line = "{\"ts\":\"";
  line += ts;
  line += "\",\"side\":" + json_string(side) + ",\"severity\":\"" + kSeverity[static_cast<int>(event.severity)] +
          "\",\"event\":" + json_string(event.type);
  for (const auto& [k, v] : event.fields) line += "," + json_string(k) + ":" + json_string(v);
  line += "}";
  return line;
}

Recorder::Recorder(std::unique_ptr<AuditLog> log) : log_(std::move(log)) { assert(log_); }
Recorder::~Recorder() = default;

crypto::Status Recorder::note(const Event& event) {
  const auto now = std::chrono::system_clock::now();
  // stderr (journald) gets the record exactly as the trail holds it, seq
  // and hash included; only an event the trail could not take is
  // formatted on its own.
  std::string line;
  crypto::Status s = log_->append(event, now, &line);
  if (s.ok()) {
    std::fprintf(stderr, "%s\n", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", to_json_line(event, log_->options().side, now).c_str());
    std::fprintf(stderr, "ferryd: audit record failed: %s\n", s.error().message.c_str());
  }
  pending_ = true;
  return s;
}

crypto::Status Recorder::sync() {
  if (!pending_) return {};
  pending_ = false;
  crypto::Status s = log_->sync();
  if (!s.ok()) std::fprintf(stderr, "ferryd: audit sync failed: %s\n", s.error().message.c_str());
  return s;
}

}  // namespace ferry::audit

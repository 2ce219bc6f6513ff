#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "ferry/audit/event.h"
#include "ferry/audit/json.h"

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
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char ts[96];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  static constexpr const char* kSeverity[] = {"info", "notice", "warning", "error"};
  std::string line = "{\"ts\":\"";
  line += ts;
  line += "\",\"side\":" + json_string(side) + ",\"severity\":\"" + kSeverity[static_cast<int>(event.severity)] +
          "\",\"event\":" + json_string(event.type);
  for (const auto& [k, v] : event.fields) line += "," + json_string(k) + ":" + json_string(v);
  line += "}";
  return line;
}

namespace {

class JsonLinesSink final : public AuditSink {
 public:
  JsonLinesSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~JsonLinesSink() override { ::close(fd_); }

  crypto::Status record(const std::string& json_line) override {
    std::string line = json_line + "\n";
    std::size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return crypto::make_error(crypto::Errc::io, path_ + ": " + std::strerror(errno));
      }
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  crypto::Status sync() override {
    if (::fdatasync(fd_) != 0) return crypto::make_error(crypto::Errc::io, path_ + ": " + std::strerror(errno));
    return {};
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

crypto::Result<std::unique_ptr<AuditSink>> open_jsonl_sink(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return crypto::make_error(crypto::Errc::io, dir + ": " + std::strerror(errno));
  }
  const std::string path = dir + "/audit.jsonl";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return crypto::make_error(crypto::Errc::io, path + ": " + std::strerror(errno));
  return std::unique_ptr<AuditSink>(std::make_unique<JsonLinesSink>(fd, path));
}

crypto::Status Recorder::note(const Event& event) {
  const std::string line = to_json_line(event, side_, std::chrono::system_clock::now());
  std::fprintf(stderr, "%s\n", line.c_str());
  if (!sink_) return {};
  crypto::Status s = sink_->record(line);
  if (!s.ok()) std::fprintf(stderr, "ferryd: audit record failed: %s\n", s.error().message.c_str());
  pending_ = true;
  return s;
}

crypto::Status Recorder::sync() {
  if (!sink_ || !pending_) return {};
  pending_ = false;
  crypto::Status s = sink_->sync();
  if (!s.ok()) std::fprintf(stderr, "ferryd: audit sync failed: %s\n", s.error().message.c_str());
  return s;
}

}  // namespace ferry::audit

#include "tests/support/prometheus_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

namespace ferry::test {

namespace {

using crypto::Errc;
using crypto::make_error;

crypto::Error bad(std::size_t line_no, const std::string& what) {
  return make_error(Errc::bad_format, "line " + std::to_string(line_no) + ": " + what);
}

bool is_name(std::string_view s, bool colon_ok) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon_ok && c == ':') ||
                    (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

std::optional<double> parse_number(std::string_view s) {
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s.starts_with("+")) s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string unescape(std::string_view s, bool quote_ok, bool& ok) {
  std::string out;
  ok = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) {
      ok = false;
      break;
    }
    if (s[i] == '\\') {
      out += '\\';
    } else if (s[i] == 'n') {
      out += '\n';
    } else if (quote_ok && s[i] == '"') {
      out += '"';
    } else {
      ok = false;
      break;
    }
  }
  return out;
}

// The family a sample line belongs to: its own name, or for histograms
// and summaries the name without the _bucket/_sum/_count suffix.
bool belongs(const PromFamily& f, std::string_view sample) {
  if (sample == f.name) return true;
  if (f.type != "histogram" && f.type != "summary") return false;
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (sample.size() == f.name.size() + suffix.size() && sample.starts_with(f.name) && sample.ends_with(suffix)) {
      return true;
    }
  }
  return false;
}

}  // namespace

const PromFamily* PromScrape::family(std::string_view name) const {
  for (const PromFamily& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<double> PromScrape::value(std::string_view name, const std::map<std::string, std::string>& labels) const {
  for (const PromFamily& f : families) {
    for (const PromSample& s : f.samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) all = false;
      }
      if (all) return s.value;
    }
  }
  return std::nullopt;
}

crypto::Result<PromScrape> parse_prometheus_text(std::string_view text) {
  PromScrape scrape;
  std::set<std::string> finished;  // families another family has followed
  std::set<std::string> seen_help;
  std::set<std::string> seen_type;
  if (!text.empty() && !text.ends_with("\n")) return bad(0, "the text must end with a line feed");
  std::size_t line_no = 0;
  // The family lines are being added to; a new name closes it.
  const auto open_family = [&](const std::string& name, std::size_t at) -> crypto::Result<PromFamily*> {
    if (!scrape.families.empty() && scrape.families.back().name == name) return &scrape.families.back();
    if (!scrape.families.empty()) finished.insert(scrape.families.back().name);
    if (finished.count(name) != 0 || scrape.family(name) != nullptr) {
      return bad(at, "the lines of family " + name + " are not together");
    }
    scrape.families.push_back(PromFamily{name, "untyped", "", {}});
    return &scrape.families.back();
  };
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line.empty()) continue;
    if (line.starts_with("#")) {
      // "# HELP name docstring" and "# TYPE name type"; other comments are free.
      std::string_view rest = line.substr(1);
      while (rest.starts_with(" ")) rest.remove_prefix(1);
      const bool help = rest.starts_with("HELP ");
      const bool type = rest.starts_with("TYPE ");
      if (!help && !type) continue;
      rest.remove_prefix(5);
      const std::size_t sp = rest.find(' ');
      const std::string name(rest.substr(0, sp));
      const std::string_view arg = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      if (!is_name(name, true)) return bad(line_no, "bad metric name \"" + name + "\"");
      crypto::Result<PromFamily*> f = open_family(name, line_no);
      if (!f) return f.error();
      if (help) {
        if (!seen_help.insert(name).second) return bad(line_no, "second HELP for " + name);
        bool ok = false;
        (*f)->help = unescape(arg, false, ok);
        if (!ok) return bad(line_no, "bad escape in HELP");
      } else {
        if (!seen_type.insert(name).second) return bad(line_no, "second TYPE for " + name);
        if (!(*f)->samples.empty()) return bad(line_no, "TYPE after samples of " + name);
        static const std::set<std::string_view> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (kTypes.count(arg) == 0) return bad(line_no, "unknown type \"" + std::string(arg) + "\"");
        (*f)->type = std::string(arg);
      }
      continue;
    }
    PromSample sample;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    sample.name = std::string(line.substr(0, i));
    if (!is_name(sample.name, true)) return bad(line_no, "bad metric name \"" + sample.name + "\"");
    if (i < line.size() && line[i] == '{') {
      ++i;
      for (;;) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        const std::size_t eq = line.find('=', i);
        if (eq == std::string_view::npos) return bad(line_no, "label without '='");
        const std::string label(line.substr(i, eq - i));
        if (!is_name(label, false)) return bad(line_no, "bad label name \"" + label + "\"");
        if (eq + 1 >= line.size() || line[eq + 1] != '"') return bad(line_no, "label value not quoted");
        std::size_t j = eq + 2;
        while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
        if (j >= line.size()) return bad(line_no, "label value not closed");
        bool ok = false;
        const std::string value = unescape(line.substr(eq + 2, j - eq - 2), true, ok);
        if (!ok) return bad(line_no, "bad escape in the value of " + label);
        if (!sample.labels.emplace(label, value).second) return bad(line_no, "label " + label + " twice");
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
        else if (i >= line.size() || line[i] != '}') return bad(line_no, "',' or '}' expected after a label");
      }
    }
    if (i >= line.size() || line[i] != ' ') return bad(line_no, "a space and a value expected");
    std::string_view rest = line.substr(i + 1);
    const std::size_t sp = rest.find(' ');
    std::optional<double> v = parse_number(rest.substr(0, sp));
    if (!v) return bad(line_no, "bad value \"" + std::string(rest.substr(0, sp)) + "\"");
    if (sp != std::string_view::npos) {
      std::int64_t ts = 0;
      const std::string_view t = rest.substr(sp + 1);
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ts);
      if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return bad(line_no, "bad timestamp");
    }
    sample.value = *v;
    PromFamily* f = nullptr;
    if (!scrape.families.empty() && belongs(scrape.families.back(), sample.name)) {
      f = &scrape.families.back();
    } else {
      crypto::Result<PromFamily*> opened = open_family(sample.name, line_no);
      if (!opened) return opened.error();
      f = *opened;
    }
    f->samples.push_back(std::move(sample));
  }
  return scrape;
}

crypto::Result<HttpReply> http_exchange(std::uint16_t port, std::string_view request,
                                        std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(Errc::io, std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return make_error(Errc::io, std::string("connect: ") + std::strerror(errno));
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) break;  // the server may refuse early (a header too long); read what it said
    sent += static_cast<std::size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string raw;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return make_error(Errc::io, "timed out waiting for the server to close");
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;  // closed or reset: what we have is the reply
    raw.append(buf, static_cast<std::size_t>(n));
  }
  HttpReply reply;
  const std::size_t head_end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.1 ") || head_end == std::string::npos) return reply;
  reply.status = std::atoi(raw.substr(9, 3).c_str());
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const std::size_t eol = raw.find("\r\n", pos);
    const std::string header = raw.substr(pos, eol - pos);
    const std::size_t colon = header.find(':');
    if (colon != std::string::npos) {
      std::string name = header.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = header.substr(colon + 1);
      while (value.starts_with(" ")) value.erase(0, 1);
      reply.headers[name] = value;
    }
    pos = eol + 2;
  }
  reply.body = raw.substr(head_end + 4);
  return reply;
}

crypto::Result<HttpReply> http_get(std::uint16_t port, std::string_view path, std::chrono::milliseconds timeout) {
  return http_exchange(port,
                       "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                           "\r\nConnection: close\r\n\r\n",
                       timeout);
}

}  // namespace ferry::test

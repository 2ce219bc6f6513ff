#include "ferry/audit/segments.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ferry::audit {

namespace {
constexpr std::string_view kPrefix = "audit-";
constexpr std::string_view kSuffix = ".jsonl";
constexpr std::size_t kDigits = 20;
}  // namespace

std::string segment_name(std::uint64_t first_seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "audit-%020llu.jsonl", static_cast<unsigned long long>(first_seq));
  return buf;
}

std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
  if (name.size() != kPrefix.size() + kDigits + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : name.substr(kPrefix.size(), kDigits)) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (v == 0) return std::nullopt;
  return v;
}

crypto::Result<std::vector<Segment>> list_segments(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return crypto::make_error(crypto::Errc::io, dir + ": " + std::strerror(errno));
  std::vector<Segment> out;
  while (const dirent* e = ::readdir(d)) {
    std::optional<std::uint64_t> first = parse_segment_name(e->d_name);
    if (!first) continue;
    const std::string path = dir + "/" + e->d_name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back({path, *first, static_cast<std::uint64_t>(st.st_size)});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });
  return out;
}

}  // namespace ferry::audit

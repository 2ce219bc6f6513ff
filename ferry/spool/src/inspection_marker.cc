#include "ferry/spool/inspection_marker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ferry::spool {
namespace {

using crypto::Errc;
using crypto::make_error;

constexpr std::string_view kHeader = "ferry-inspecting/1 alone=";
constexpr std::size_t kMaxMarkerBytes = 64 * 1024;  // a batch is at most a few hundred ids

std::string path_of(const std::string& dir) { return dir + "/" + kInspectionMarkerFile; }

}  // namespace

crypto::Status write_inspection_marker(const std::string& dir, const InspectionMarker& marker) {
  std::string text = std::string(kHeader) + std::to_string(marker.alone) + "\n";
  for (const ObjectId& id : marker.ids) text += id.hex() + "\n";
  const std::string tmp = path_of(dir) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error(Errc::io, tmp + ": " + std::strerror(errno));
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return make_error(Errc::io, tmp + ": " + (n < 0 ? std::strerror(err) : "short write"));
  }
  if (::rename(tmp.c_str(), path_of(dir).c_str()) != 0) return make_error(Errc::io, path_of(dir) + ": " + std::strerror(errno));
  return {};
}

void clear_inspection_marker(const std::string& dir) { ::unlink(path_of(dir).c_str()); }

crypto::Result<std::optional<InspectionMarker>> read_inspection_marker(const std::string& dir) {
  const std::string path = path_of(dir);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<InspectionMarker>{};
    return make_error(Errc::io, path + ": " + std::strerror(errno));
  }
  std::string text(kMaxMarkerBytes + 1, '\0');
  const ssize_t n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (n < 0 || static_cast<std::size_t>(n) > kMaxMarkerBytes) return make_error(Errc::bad_format, path + ": unreadable or too long");
  text.resize(static_cast<std::size_t>(n));
  auto bad = [&] { return make_error(Errc::bad_format, path + ": not a ferry-inspecting/1 marker"); };
  if (!text.starts_with(kHeader) || text.size() < kHeader.size() + 2) return bad();
  InspectionMarker m;
  const char a = text[kHeader.size()];
  if (a < '0' || a > '2' || text[kHeader.size() + 1] != '\n') return bad();
  m.alone = static_cast<unsigned>(a - '0');
  std::string_view rest = std::string_view(text).substr(kHeader.size() + 2);
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return bad();
    std::optional<ObjectId> id = ObjectId::parse(rest.substr(0, nl));
    if (!id) return bad();
    m.ids.push_back(*id);
    rest.remove_prefix(nl + 1);
  }
  if (m.alone != 0 && m.ids.size() != 1) return bad();
  return std::optional<InspectionMarker>{std::move(m)};
}

}  // namespace ferry::spool

#include "ferry/spool/delivered_ids.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ferry/fs/durable_file.h"
#include "ferry/spool/src/posix.h"

namespace ferry::spool {

using crypto::Errc;
using crypto::make_error;
using crypto::Result;
using crypto::Status;
using internal::Fd;
using internal::io_error;

namespace {

constexpr std::string_view kHeader = "ferry-delivered-ids/1\n";
constexpr std::size_t kLineBytes = ObjectId::kHexSize + 1;
constexpr std::size_t kNameDigits = 20;

std::string segment_name(std::int64_t start_ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld.ids", static_cast<long long>(start_ms));
  return buf;
}

std::optional<std::int64_t> segment_start(std::string_view name) {
  if (name.size() != kNameDigits + 4 || !name.ends_with(".ids")) return std::nullopt;
  std::int64_t v = 0;
  for (std::size_t i = 0; i < kNameDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    if (v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

struct Segment {
  std::int64_t start_ms;
  std::size_t count;
};

}  // namespace

struct DeliveredIds::Impl {
  std::string dir;
  Clock clock;
  std::vector<Segment> segments;  // oldest first; the last one is appended to
  std::unordered_map<ObjectId, std::int64_t> ids;  // id -> start of its segment
  Fd active;
  std::uint64_t active_bytes = 0;
  bool need_new_segment = true;

  std::string path_of(std::int64_t start) const { return dir + "/" + segment_name(start); }

  // Reads one segment into `ids`, truncating a torn tail. Returns the number
  // of ids, or nullopt when the segment holds nothing (torn at creation).
  Result<std::optional<std::size_t>> load(std::int64_t start) {
    const std::string path = path_of(start);
    Result<crypto::Bytes> bytes = fs::read_file(path, kHeader.size() + (kSegmentIds + 1) * kLineBytes);
    if (!bytes.ok()) return bytes.error();
    const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    if (!text.starts_with(kHeader)) {
      if (kHeader.starts_with(text)) return std::optional<std::size_t>();
      return make_error(Errc::bad_format, path + ": not a delivered-ids segment");
    }
    std::size_t count = 0;
    std::size_t pos = kHeader.size();
    while (pos < text.size()) {
      const std::size_t eol = text.find('\n', pos);
      std::optional<ObjectId> id;
      if (eol != std::string_view::npos && eol - pos == ObjectId::kHexSize) id = ObjectId::parse(text.substr(pos, eol - pos));
      if (!id) break;
      ids.emplace(*id, start);
      ++count;
      pos = eol + 1;
    }
    if (pos < text.size()) {
      // A torn append leaves only its own prefix (or zeros) behind; a whole
      // valid line after the damage means something else broke the file.
      for (std::size_t p = text.find('\n', pos); p != std::string_view::npos; p = text.find('\n', p + 1)) {
        if (p + 1 + ObjectId::kHexSize < text.size() &&
            ObjectId::parse(text.substr(p + 1, ObjectId::kHexSize)) && text[p + 1 + ObjectId::kHexSize] == '\n') {
          return make_error(Errc::bad_format,
                            path + ": damaged at byte " + std::to_string(pos) + " with valid ids after the damage");
        }
      }
      Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
      if (!fd.valid()) return io_error(path, errno);
      if (::ftruncate(fd.get(), static_cast<off_t>(pos)) != 0) return io_error(path, errno);
      if (Status s = internal::fsync_fd(fd.get(), path); !s.ok()) return s.error();
    }
    return std::optional<std::size_t>(count);
  }

  Status start_segment() {
    std::int64_t start = clock();
    if (!segments.empty() && start <= segments.back().start_ms) start = segments.back().start_ms + 1;
    const std::string path = path_of(start);
    active = Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!active.valid()) return io_error(path, errno);
    Status s = internal::write_all(active.get(), crypto::as_bytes(kHeader), path);
    if (s.ok()) s = internal::fsync_fd(active.get(), path);
    if (s.ok()) s = internal::fsync_path(dir);
    if (!s.ok()) {
      active.reset();
      ::unlink(path.c_str());
      return s;
    }
    segments.push_back({start, 0});
    active_bytes = kHeader.size();
    need_new_segment = false;
    return {};
  }

  // Appends ids (all new, at most what fits) to the active segment.
  Status append(std::span<const ObjectId> batch) {
    const std::string path = path_of(segments.back().start_ms);
    std::string lines;
    lines.reserve(batch.size() * kLineBytes);
    for (const ObjectId& id : batch) {
      lines += id.hex();
      lines.push_back('\n');
    }
    Status s = internal::write_all(active.get(), crypto::as_bytes(lines), path);
    if (s.ok() && ::fdatasync(active.get()) != 0) s = io_error(path, errno);
    if (!s.ok()) {
      // Leave the damage as this segment's tail and never append after it.
      if (::ftruncate(active.get(), static_cast<off_t>(active_bytes)) == 0) ::fsync(active.get());
      need_new_segment = true;
      return s;
    }
    active_bytes += lines.size();
    segments.back().count += batch.size();
    for (const ObjectId& id : batch) ids.emplace(id, segments.back().start_ms);
    return {};
  }
};

DeliveredIds::DeliveredIds(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeliveredIds::DeliveredIds(DeliveredIds&&) noexcept = default;
DeliveredIds& DeliveredIds::operator=(DeliveredIds&&) noexcept = default;
DeliveredIds::~DeliveredIds() = default;

Result<DeliveredIds> DeliveredIds::open(const std::string& dir, Clock clock) {
  assert(clock);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error(dir, errno);
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->clock = std::move(clock);
  std::vector<std::int64_t> starts;
  {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
    if (!d) return io_error(dir, errno);
    errno = 0;
    while (struct dirent* e = ::readdir(d.get())) {
      if (std::optional<std::int64_t> start = segment_start(e->d_name)) starts.push_back(*start);
      errno = 0;
    }
    if (errno != 0) return io_error(dir, errno);
  }
  std::sort(starts.begin(), starts.end());
  bool removed = false;
  for (std::int64_t start : starts) {
    Result<std::optional<std::size_t>> loaded = impl->load(start);
    if (!loaded.ok()) return loaded.error();
    if (!*loaded || **loaded == 0) {
      // Empty segments bound nothing that their successor does not.
      if (::unlink(impl->path_of(start).c_str()) != 0) return io_error(impl->path_of(start), errno);
      removed = true;
      continue;
    }
    impl->segments.push_back({start, **loaded});
  }
  if (removed) {
    if (Status s = internal::fsync_path(dir); !s.ok()) return s.error();
  }
  return DeliveredIds(std::move(impl));
}

bool DeliveredIds::contains(const ObjectId& id) const { return impl_->ids.count(id) != 0; }

Status DeliveredIds::remember(const ObjectId& id) { return remember_batch(std::span<const ObjectId>(&id, 1)); }

Status DeliveredIds::remember_batch(std::span<const ObjectId> batch) {
  std::vector<ObjectId> fresh;
  std::unordered_set<ObjectId> in_batch;
  for (const ObjectId& id : batch) {
    if (!contains(id) && in_batch.insert(id).second) fresh.push_back(id);
  }
  std::span<const ObjectId> rest(fresh);
  while (!rest.empty()) {
    Impl& im = *impl_;
    if (im.need_new_segment || im.segments.back().count >= kSegmentIds ||
        im.clock() - im.segments.back().start_ms >= kSegmentSpanMs) {
      if (Status s = im.start_segment(); !s.ok()) return s;
    }
    const std::size_t room = kSegmentIds - im.segments.back().count;
    const std::size_t n = std::min(room, rest.size());
    if (Status s = im.append(rest.first(n)); !s.ok()) return s;
    rest = rest.subspan(n);
  }
  return {};
}

Result<std::size_t> DeliveredIds::prune(std::int64_t older_than_ms) {
  Impl& im = *impl_;
  std::unordered_set<std::int64_t> gone;
  std::size_t keep_from = 0;
  while (keep_from + 1 < im.segments.size() && im.segments[keep_from + 1].start_ms <= older_than_ms) {
    const std::string path = im.path_of(im.segments[keep_from].start_ms);
    if (::unlink(path.c_str()) != 0) return io_error(path, errno);
    gone.insert(im.segments[keep_from].start_ms);
    ++keep_from;
  }
  if (gone.empty()) return std::size_t{0};
  im.segments.erase(im.segments.begin(), im.segments.begin() + static_cast<std::ptrdiff_t>(keep_from));
  const std::size_t before = im.ids.size();
  std::erase_if(im.ids, [&](const auto& entry) { return gone.count(entry.second) != 0; });
  if (Status s = internal::fsync_path(im.dir); !s.ok()) return s.error();
  return before - im.ids.size();
}

std::size_t DeliveredIds::size() const { return impl_->ids.size(); }
std::size_t DeliveredIds::segment_count() const { return impl_->segments.size(); }

}  // namespace ferry::spool

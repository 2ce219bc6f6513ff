// Start-up recovery: resolves whatever a crash left half done, by the rules
// documented in spool.h.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "ferry/spool/spool.h"
#include "ferry/spool/src/spool_impl.h"

namespace ferry::spool {

using internal::Fd;
using internal::io_error;

namespace {

// Where a file of an object was found: a state, or tmp/.
constexpr int kTmp = static_cast<int>(kAllStates.size());

struct Found {
  std::vector<ObjectRecord> records;  // readable ones; record.state is the directory
  std::vector<State> unreadable;
  std::vector<int> data;  // State as int, or kTmp
};

template <class Fn>
Status for_each_name(const std::string& dir, Fn fn) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (!d) return io_error(dir, errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d.get())) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) return io_error(dir, errno);
  for (const std::string& name : names) {
    if (Status s = fn(name); !s.ok()) return s;
  }
  return {};
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error(path, errno);
  return {};
}

Status rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return io_error(from + " -> " + to, errno);
  return {};
}

}  // namespace

Result<RecoveryReport> Spool::recover() {
  assert(impl_->partials.empty());
  Impl& im = *impl_;
  RecoveryReport report;
  for (State s : kAllStates) report.objects[s] = 0;
  std::map<ObjectId, Found> found;

  auto location_dir = [&](int loc) { return loc == kTmp ? im.tmp_dir() : im.state_dir(static_cast<State>(loc)); };
  auto location_name = [&](int loc) {
    return loc == kTmp ? std::string("tmp") : std::string(state_name(static_cast<State>(loc)));
  };
  auto data_at = [&](const ObjectId& id, int loc) { return location_dir(loc) + "/" + id.hex() + ".data"; };

  Status s = for_each_name(im.tmp_dir(), [&](const std::string& name) -> Status {
    if (std::optional<ObjectId> id = id_of_name(name, "data")) {
      found[*id].data.push_back(kTmp);
      return {};
    }
    const std::string path = im.tmp_dir() + "/" + name;
    if (::unlink(path.c_str()) == 0) {
      ++report.tmp_removed;
      return {};
    }
    if (errno == EISDIR || errno == EPERM) {
      ++report.foreign;
      return {};
    }
    return io_error(path, errno);
  });
  if (!s.ok()) return s.error();

  for (State state : kAllStates) {
    s = for_each_name(im.state_dir(state), [&](const std::string& name) -> Status {
      if (std::optional<ObjectId> id = id_of_name(name, "rec")) {
        Result<ObjectRecord> r = im.read_record(*id, state);
        if (r.ok()) {
          found[*id].records.push_back(std::move(*r));
        } else {
          found[*id].unreadable.push_back(state);
        }
      } else if (std::optional<ObjectId> data_id = id_of_name(name, "data")) {
        found[*data_id].data.push_back(static_cast<int>(state));
      } else if (!(state == State::quarantine && (name.ends_with(".unreadable") || name.ends_with(".nodata")))) {
        ++report.foreign;
      }
      return {};
    });
    if (!s.ok()) return s.error();
  }

  const std::string quarantine = im.state_dir(State::quarantine);
  for (auto& [id, f] : found) {
    for (State bad : f.unreadable) {
      s = rename_file(im.record_path(id, bad),
                      quarantine + "/" + id.hex() + "." + std::string(state_name(bad)) + ".rec.unreadable");
      if (!s.ok()) return s.error();
      ++report.unreadable;
    }
    if (f.records.empty() && !f.unreadable.empty()) {
      // No readable record claims the data: keep it beside the unreadable
      // record for an operator rather than guess.
      for (int loc : f.data) {
        s = rename_file(data_at(id, loc), quarantine + "/" + id.hex() + "." + location_name(loc) + ".data.unreadable");
        if (!s.ok()) return s.error();
      }
      continue;
    }
    if (f.records.empty()) {
      for (int loc : f.data) {
        if (s = remove_file(data_at(id, loc)); !s.ok()) return s.error();
        ++report.uncommitted_removed;
      }
      continue;
    }
    auto has_data = [&](State st) { return std::ranges::count(f.data, static_cast<int>(st)) > 0; };
    const ObjectRecord& winner = *std::ranges::max_element(f.records, [&](const ObjectRecord& a, const ObjectRecord& b) {
      if (a.revision != b.revision) return a.revision < b.revision;
      return !has_data(a.state) && has_data(b.state);
    });
    const State home = winner.state;
    for (const ObjectRecord& r : f.records) {
      if (&r == &winner) continue;
      if (s = remove_file(im.record_path(id, r.state)); !s.ok()) return s.error();
      ++report.stale_removed;
    }
    const int home_loc = static_cast<int>(home);
    bool placed = has_data(home);
    for (int loc : f.data) {
      if (loc == home_loc) continue;
      if (!placed) {
        if (s = rename_file(data_at(id, loc), im.data_path(id, home)); !s.ok()) return s.error();
        ++report.moves_finished;
        placed = true;
      } else {
        if (s = remove_file(data_at(id, loc)); !s.ok()) return s.error();
        ++report.stale_removed;
      }
    }
    if (!placed) {
      ++report.records_without_data;
      if (home == State::partial) {
        const std::string path = im.data_path(id, home);
        Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd.valid()) return io_error(path, errno);
      } else {
        s = rename_file(im.record_path(id, home),
                        quarantine + "/" + id.hex() + "." + std::string(state_name(home)) + ".rec.nodata");
        if (!s.ok()) return s.error();
        continue;
      }
    }
    ++report.objects[home];
  }

  for (State state : kAllStates) {
    if (s = internal::fsync_path(im.state_dir(state)); !s.ok()) return s.error();
  }
  if (s = internal::fsync_path(im.tmp_dir()); !s.ok()) return s.error();
  return report;
}

}  // namespace ferry::spool

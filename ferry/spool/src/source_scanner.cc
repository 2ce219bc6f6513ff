#include "ferry/spool/source_scanner.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <unordered_set>

#include "ferry/spool/name_rule.h"
#include "ferry/spool/src/posix.h"

namespace ferry::spool {

using crypto::Result;
using crypto::Status;
using internal::Fd;

namespace {

bool in_progress_name(std::string_view name) { return name.ends_with(".part") || name.ends_with(".tmp"); }

}  // namespace

ObjectRecord ingest_record(const ObjectId& id, const std::string& channel, std::string_view relative_path,
                           State& state) {
  ObjectRecord r;
  r.id = id;
  r.channel = channel;
  r.path = std::string(relative_path.substr(0, kMaxPathBytes));
  Status name = check_relative_name(relative_path);
  if (name.ok()) {
    state = State::incoming;
    r.verdict = "ingested";
    return r;
  }
  state = State::quarantine;
  r.verdict = "rejected";
  std::string detail = name.error().message;
  constexpr std::string_view kCode = "name.invalid: ";
  if (detail.starts_with(kCode)) detail.erase(0, kCode.size());
  if (relative_path.size() > kMaxPathBytes) detail += "; path cut to 4096 bytes in this record";
  detail.resize(std::min(detail.size(), kMaxReasonDetailBytes));
  r.reasons.push_back({"name.invalid", detail});
  return r;
}

SourceScanner::SourceScanner(std::string channel, std::string source_dir, std::chrono::milliseconds settle)
    : channel_(std::move(channel)), source_dir_(std::move(source_dir)), settle_(settle) {}

Result<std::vector<Candidate>> SourceScanner::scan(std::int64_t now_ms) {
  problems_.clear();
  Result<Fd> root = internal::open_directory(source_dir_);
  if (!root.ok()) return root.error();
  std::unordered_set<std::string> seen;
  std::vector<Candidate> ready;

  auto walk = [&](auto& self, int dir, const std::string& prefix, int depth) -> void {
    const std::string where = source_dir_ + "/" + prefix;
    Result<std::vector<std::string>> names = internal::list_names(dir, where);
    if (!names.ok()) {
      problems_.push_back(names.error().message);
      return;
    }
    for (const std::string& name : *names) {
      if (name.starts_with(".")) continue;
      struct stat st;
      if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished meanwhile
      const std::string rel = prefix + name;
      if (S_ISDIR(st.st_mode)) {
        if (depth + 1 > kMaxDepth) {
          problems_.push_back(source_dir_ + "/" + rel + ": deeper than " + std::to_string(kMaxDepth) + " directories");
          continue;
        }
        Result<Fd> sub = internal::open_subdirectory(dir, name, source_dir_ + "/" + rel);
        if (!sub.ok()) {
          problems_.push_back(sub.error().message);
          continue;
        }
        self(self, sub->get(), rel + "/", depth + 1);
        continue;
      }
      if (!S_ISREG(st.st_mode) || in_progress_name(name)) continue;
      const std::int64_t mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      const auto size = static_cast<std::uint64_t>(st.st_size);
      const auto inode = static_cast<std::uint64_t>(st.st_ino);
      seen.insert(rel);
      auto [it, fresh] = observed_.try_emplace(rel, Observation{size, mtime_ns, inode, now_ms});
      Observation& o = it->second;
      if (!fresh && (o.size != size || o.mtime_ns != mtime_ns || o.inode != inode)) {
        o = Observation{size, mtime_ns, inode, now_ms};
      }
      if (now_ms - o.since_ms >= settle_.count()) ready.push_back(Candidate{rel, size, mtime_ns});
    }
  };
  walk(walk, root->get(), "", 0);

  std::erase_if(observed_, [&](const auto& entry) { return seen.count(entry.first) == 0; });
  std::sort(ready.begin(), ready.end(),
            [](const Candidate& a, const Candidate& b) { return a.relative_path < b.relative_path; });
  return ready;
}

}  // namespace ferry::spool

// The exactly-once claim of a source file (source_scanner.h): claim
// directory, copy into the spool, unlink; and its start-up recovery.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ferry/fs/sync_barrier.h"
#include "ferry/spool/source_scanner.h"
#include "ferry/spool/src/posix.h"

namespace ferry::spool {

using crypto::Errc;
using crypto::make_error;
using crypto::Result;
using crypto::Status;
using internal::Fd;
using internal::io_error;

namespace {

constexpr std::size_t kMaxSpareClaims = 256;

std::string claim_name(const ObjectId& id) { return std::string(kClaimPrefix) + id.hex(); }

std::optional<ObjectId> claim_id(std::string_view name) {
  if (!name.starts_with(kClaimPrefix)) return std::nullopt;
  return ObjectId::parse(name.substr(kClaimPrefix.size()));
}

// Puts a claimed file back under its name and removes the claim directory.
// Never replaces a file that appeared under that name meanwhile.
Status unclaim(int parent, int claim, const std::string& claim_dir, const std::string& base, const std::string& where) {
  if (const int err = internal::rename_noreplace(claim, base, parent, base); err != 0) return io_error(where, err);
  if (::unlinkat(parent, claim_dir.c_str(), AT_REMOVEDIR) != 0) return io_error(where, errno);
  return internal::fsync_fd(parent, where);
}

// Step 3 of take(): the object is in the spool, the source copy goes.
Status release(int parent, int claim, const std::string& claim_dir, const std::string& base, const std::string& where) {
  if (::unlinkat(claim, base.c_str(), 0) != 0 && errno != ENOENT) return io_error(where, errno);
  if (::unlinkat(parent, claim_dir.c_str(), AT_REMOVEDIR) != 0) return io_error(where, errno);
  return internal::fsync_fd(parent, where);
}

Result<ObjectRecord> copy_claimed(int claimed_fd, const ObjectId& id, const std::string& channel,
                                  const std::string& relative_path, Spool& spool) {
  State state;
  ObjectRecord record = ingest_record(id, channel, relative_path, state);
  return spool.create(claimed_fd, std::move(record), state);
}

}  // namespace

Result<ObjectRecord> SourceScanner::take(const Candidate& candidate, Spool& spool) {
  const std::string& rel = candidate.relative_path;
  const std::string where = source_dir_ + "/" + rel;
  const std::size_t slash = rel.rfind('/');
  const std::string dir_part = slash == std::string::npos ? "" : rel.substr(0, slash);
  const std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
  observed_.erase(rel);

  Result<ObjectId> id = ObjectId::generate();
  if (!id.ok()) return id.error();
  Result<Fd> root = internal::open_directory(source_dir_);
  if (!root.ok()) return root.error();
  Result<Fd> parent = internal::open_relative_directory(root->get(), dir_part, where);
  if (!parent.ok()) return parent.error();
  const std::string claim_dir = claim_name(*id);
  if (::mkdirat(parent->get(), claim_dir.c_str(), 0700) != 0) return io_error(where, errno);
  Result<Fd> claim = internal::open_subdirectory(parent->get(), claim_dir, where);
  if (!claim.ok()) return claim.error();
  if (::renameat(parent->get(), base.c_str(), claim->get(), base.c_str()) != 0) {
    const int err = errno;
    ::unlinkat(parent->get(), claim_dir.c_str(), AT_REMOVEDIR);
    return io_error(where, err);
  }
  // The claim must be durable before the object is: otherwise a crash could
  // leave the file under its name and in the spool, and it would cross twice.
  if (Status s = internal::fsync_fd(claim->get(), where); !s.ok()) return s.error();
  if (Status s = internal::fsync_fd(parent->get(), where); !s.ok()) return s.error();

  Fd in(::openat(claim->get(), base.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  const bool same = in.valid() && ::fstat(in.get(), &st) == 0 && S_ISREG(st.st_mode) &&
                    static_cast<std::uint64_t>(st.st_size) == candidate.size &&
                    static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec == candidate.mtime_ns;
  if (!same) {
    in.reset();
    if (Status s = unclaim(parent->get(), claim->get(), claim_dir, base, where); !s.ok()) return s.error();
    return make_error(Errc::io, where + ": changed since it settled, or is no longer a regular file; not taken");
  }
  Result<ObjectRecord> record = copy_claimed(in.get(), *id, channel_, rel, spool);
  if (!record.ok()) {
    in.reset();
    if (Status s = unclaim(parent->get(), claim->get(), claim_dir, base, where); !s.ok()) {
      return make_error(record.error().code, record.error().message + "; and the claim stays: " + s.error().message);
    }
    return record.error();
  }
  if (Status s = release(parent->get(), claim->get(), claim_dir, base, where); !s.ok()) return s.error();
  return record;
}

std::vector<Result<ObjectRecord>> SourceScanner::take_batch(const std::vector<Candidate>& candidates, Spool& spool,
                                                            const Classify& classify) {
  struct Claimed {
    std::size_t index;
    ObjectId id;
    Fd parent, claim, in;
    std::string claim_dir, base, where, dir_part;
  };
  std::vector<Result<ObjectRecord>> out(candidates.size(), make_error(Errc::io, "not taken"));
  std::vector<Claimed> claimed;
  fs::SyncBarrier barrier;
  Result<Fd> root = internal::open_directory(source_dir_);
  if (!root.ok()) {
    for (auto& r : out) r = root.error();
    return out;
  }

  // Step 1: every claim, then one barrier over the claim directories and
  // their parents.
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string& rel = candidates[i].relative_path;
    const std::string where = source_dir_ + "/" + rel;
    const std::size_t slash = rel.rfind('/');
    const std::string dir_part = slash == std::string::npos ? "" : rel.substr(0, slash);
    const std::string parent_path = dir_part.empty() ? source_dir_ : source_dir_ + "/" + dir_part;
    observed_.erase(rel);
    Result<ObjectId> id = ObjectId::generate();
    if (!id.ok()) {
      out[i] = id.error();
      continue;
    }
    Result<Fd> parent = internal::open_relative_directory(root->get(), dir_part, where);
    if (!parent.ok()) {
      out[i] = parent.error();
      continue;
    }
    Claimed c{i, *id, std::move(*parent), {}, {}, claim_name(*id),
              slash == std::string::npos ? rel : rel.substr(slash + 1), where, dir_part};
    bool made = false;
    for (std::vector<std::string>& spares = spare_claims_[dir_part]; !made && !spares.empty(); spares.pop_back()) {
      made = ::renameat(c.parent.get(), spares.back().c_str(), c.parent.get(), c.claim_dir.c_str()) == 0;
    }
    if (!made && ::mkdirat(c.parent.get(), c.claim_dir.c_str(), 0700) != 0) {
      out[i] = io_error(where, errno);
      continue;
    }
    Result<Fd> claim = internal::open_subdirectory(c.parent.get(), c.claim_dir, where);
    if (!claim.ok()) {
      ::unlinkat(c.parent.get(), c.claim_dir.c_str(), AT_REMOVEDIR);
      out[i] = claim.error();
      continue;
    }
    c.claim = std::move(*claim);
    if (::renameat(c.parent.get(), c.base.c_str(), c.claim.get(), c.base.c_str()) != 0) {
      const int err = errno;
      ::unlinkat(c.parent.get(), c.claim_dir.c_str(), AT_REMOVEDIR);
      out[i] = io_error(where, err);
      continue;
    }
    barrier.directory(parent_path + "/" + c.claim_dir);
    barrier.directory(parent_path);
    claimed.push_back(std::move(c));
  }
  auto give_back = [&](Claimed& c, const crypto::Error& why) {
    c.in.reset();
    if (Status s = unclaim(c.parent.get(), c.claim.get(), c.claim_dir, c.base, c.where); !s.ok()) {
      out[c.index] = make_error(why.code, why.message + "; and the claim stays: " + s.error().message);
    } else {
      out[c.index] = why;
    }
  };
  // The claims must be durable before the objects are (see take()).
  if (Status s = barrier.commit(); !s.ok()) {
    for (Claimed& c : claimed) give_back(c, s.error());
    return out;
  }

  // Step 2: one batch of objects.
  std::vector<Spool::NewObject> objects;
  std::vector<Claimed*> in_batch;
  for (Claimed& c : claimed) {
    const Candidate& candidate = candidates[c.index];
    c.in = Fd(::openat(c.claim.get(), c.base.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat st;
    const bool same = c.in.valid() && ::fstat(c.in.get(), &st) == 0 && S_ISREG(st.st_mode) &&
                      static_cast<std::uint64_t>(st.st_size) == candidate.size &&
                      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec == candidate.mtime_ns;
    if (!same) {
      give_back(c, make_error(Errc::io, c.where + ": changed since it settled, or is no longer a regular file; not taken"));
      continue;
    }
    Spool::NewObject o;
    o.record = ingest_record(c.id, channel_, candidate.relative_path, o.state);
    o.record.size = candidate.size;
    if (classify && o.state == State::incoming) classify(o.record, o.state);
    o.source_fd = c.in.get();
    objects.push_back(std::move(o));
    in_batch.push_back(&c);
  }
  std::vector<Result<ObjectRecord>> created = spool.create_batch(objects);

  // Step 3: the sources go (no barrier, see above); failures are given back.
  for (std::size_t k = 0; k < in_batch.size(); ++k) {
    Claimed& c = *in_batch[k];
    c.in.reset();
    if (!created[k].ok()) {
      give_back(c, created[k].error());
      continue;
    }
    out[c.index] = std::move(created[k]);
    if (::unlinkat(c.claim.get(), c.base.c_str(), 0) != 0) continue;  // recover_claims finishes it
    std::vector<std::string>& spares = spare_claims_[c.dir_part];
    if (spares.size() < kMaxSpareClaims) {
      spares.push_back(c.claim_dir);
    } else {
      ::unlinkat(c.parent.get(), c.claim_dir.c_str(), AT_REMOVEDIR);
    }
  }
  return out;
}

void SourceScanner::tidy() {
  for (auto& [dir_part, spares] : spare_claims_) {
    const std::string dir = dir_part.empty() ? source_dir_ : source_dir_ + "/" + dir_part;
    for (const std::string& name : spares) ::rmdir((dir + "/" + name).c_str());
  }
  spare_claims_.clear();
}

Result<ClaimRecovery> SourceScanner::recover_claims(Spool& spool) {
  Result<Fd> root = internal::open_directory(source_dir_);
  if (!root.ok()) return root.error();
  problems_.clear();
  ClaimRecovery report;

  auto resolve = [&](int parent, const std::string& prefix, const std::string& claim_dir,
                     const ObjectId& id) -> Status {
    const std::string where = source_dir_ + "/" + prefix + claim_dir;
    Result<Fd> claim = internal::open_subdirectory(parent, claim_dir, where);
    if (!claim.ok()) return claim.error();
    Result<std::vector<std::string>> names = internal::list_names(claim->get(), where);
    if (!names.ok()) return names.error();
    if (names->empty()) {
      if (::unlinkat(parent, claim_dir.c_str(), AT_REMOVEDIR) != 0) return io_error(where, errno);
      ++report.empty_removed;
      return internal::fsync_fd(parent, where);
    }
    if (names->size() != 1) {
      ++report.left;
      problems_.push_back(where + ": holds more than one entry; left alone");
      return {};
    }
    const std::string& base = names->front();
    Result<std::optional<State>> in_spool = spool.find(id);
    if (!in_spool.ok()) return in_spool.error();
    if (*in_spool) {
      ++report.released;
      return release(parent, claim->get(), claim_dir, base, where);
    }
    Fd in(::openat(claim->get(), base.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat st;
    if (!in.valid() || ::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      in.reset();
      if (Status s = unclaim(parent, claim->get(), claim_dir, base, where); !s.ok()) {
        ++report.left;
        problems_.push_back(s.error().message);
        return {};
      }
      ++report.returned;
      return {};
    }
    Result<ObjectRecord> record = copy_claimed(in.get(), id, channel_, prefix + base, spool);
    if (!record.ok()) return record.error();
    ++report.retaken;
    return release(parent, claim->get(), claim_dir, base, where);
  };

  Status failed;
  auto walk = [&](auto& self, int dir, const std::string& prefix, int depth) -> void {
    Result<std::vector<std::string>> names = internal::list_names(dir, source_dir_ + "/" + prefix);
    if (!names.ok()) {
      problems_.push_back(names.error().message);
      return;
    }
    for (const std::string& name : *names) {
      struct stat st;
      if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
      if (std::optional<ObjectId> id = claim_id(name)) {
        if (Status s = resolve(dir, prefix, name, *id); !s.ok() && failed.ok()) failed = s;
        continue;
      }
      if (name.starts_with(".") || depth + 1 > kMaxDepth) continue;
      Result<Fd> sub = internal::open_subdirectory(dir, name, source_dir_ + "/" + prefix + name);
      if (!sub.ok()) {
        problems_.push_back(sub.error().message);
        continue;
      }
      self(self, sub->get(), prefix + name + "/", depth + 1);
    }
  };
  walk(walk, root->get(), "", 0);
  if (!failed.ok()) return failed.error();
  return report;
}

}  // namespace ferry::spool

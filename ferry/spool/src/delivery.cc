#include "ferry/spool/delivery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <set>
#include <unordered_set>

#include "ferry/fs/sync_barrier.h"

#include "ferry/spool/name_rule.h"
#include "ferry/spool/src/posix.h"

namespace ferry::spool {

using crypto::Errc;
using crypto::make_error;
using crypto::Result;
using crypto::Status;
using internal::Fd;
using internal::io_error;

namespace {

// Opens `relative` below `root` one component at a time, never through a
// symlink, creating missing directories.
Result<Fd> open_or_make_directories(int root, std::string_view relative, const std::string& deliver_dir) {
  Fd dir(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return io_error(deliver_dir, errno);
  std::string walked = deliver_dir;
  std::size_t start = 0;
  while (start < relative.size()) {
    std::size_t slash = relative.find('/', start);
    if (slash == std::string_view::npos) slash = relative.size();
    const std::string name(relative.substr(start, slash - start));
    walked += "/" + name;
    bool made = false;
    if (::mkdirat(dir.get(), name.c_str(), kDeliveredDirMode) == 0) {
      made = true;
    } else if (errno != EEXIST) {
      return io_error(walked, errno);
    }
    Result<Fd> next = internal::open_subdirectory(dir.get(), name, walked);
    if (!next.ok()) return next.error();
    if (made) {
      // Exactly 0755 whatever the umask, and durable before anything in it.
      if (::fchmod(next->get(), kDeliveredDirMode) != 0) return io_error(walked, errno);
      if (Status s = internal::fsync_fd(dir.get(), walked); !s.ok()) return s.error();
    }
    dir = std::move(*next);
    start = slash + 1;
  }
  return dir;
}

// Whether `dir/name` is a regular file holding exactly the object's bytes.
bool holds_object(int dir, const std::string& name, const ObjectRecord& record) {
  Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (static_cast<std::uint64_t>(st.st_size) != record.size) return false;
  Result<internal::Digested> d = internal::hash_file(fd.get(), name);
  return d.ok() && d->size == record.size && crypto::equal_constant_time(d->sm3, record.sm3);
}

bool name_taken(int dir, const std::string& name) {
  struct stat st;
  return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

}  // namespace

std::string suffixed_name(std::string_view name, const ObjectId& id, std::size_t hex_digits) {
  assert(hex_digits > 0 && hex_digits <= ObjectId::kHexSize);
  const std::string tag = "~" + id.hex().substr(0, hex_digits);
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || name.size() - dot + tag.size() >= kMaxNameComponentBytes) {
    dot = name.size();
  }
  std::string_view stem = name.substr(0, dot);
  const std::string_view ext = name.substr(dot);
  const std::size_t room = kMaxNameComponentBytes - tag.size() - ext.size();
  if (stem.size() > room) {
    std::size_t cut = room;
    while (cut > 0 && (static_cast<std::uint8_t>(stem[cut]) & 0xc0) == 0x80) --cut;
    stem = stem.substr(0, cut);
  }
  return std::string(stem) + tag + std::string(ext);
}

Result<Delivery> deliver(Spool& spool, const ObjectId& id, const std::string& deliver_dir) {
  Result<ObjectRecord> record = spool.read(id, State::received);
  if (!record.ok()) return record.error();
  if (Status s = check_relative_name(record->path); !s.ok()) return s.error();
  const std::string& rel = record->path;
  const std::size_t slash = rel.rfind('/');
  const std::string dir_part = slash == std::string::npos ? "" : rel.substr(0, slash);
  const std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
  const std::string prefix = dir_part.empty() ? "" : dir_part + "/";

  Result<Fd> root = internal::open_directory(deliver_dir);
  if (!root.ok()) return root.error();
  Result<Fd> dir = open_or_make_directories(root->get(), dir_part, deliver_dir);
  if (!dir.ok()) return dir.error();
  const std::string where = deliver_dir + "/" + prefix;

  auto finish = [&](const std::string& name, bool already) -> Result<Delivery> {
    if (Status s = internal::fsync_fd(dir->get(), where); !s.ok()) return s.error();
    Result<ObjectRecord> done =
        spool.move(id, State::received, State::done, [](ObjectRecord& r) { r.verdict = "delivered"; });
    if (!done.ok()) return done.error();
    return Delivery{deliver_dir + "/" + prefix + name, prefix + name, name != base, already};
  };

  if (record->delivered_name && record->delivered_name->starts_with(prefix)) {
    const std::string recorded = record->delivered_name->substr(prefix.size());
    if (recorded.find('/') == std::string::npos && holds_object(dir->get(), recorded, *record)) {
      return finish(recorded, true);
    }
  }

  const std::string tmp = std::string(kReservedPrefix) + "deliver." + id.hex() + ".tmp";
  if (::unlinkat(dir->get(), tmp.c_str(), 0) != 0 && errno != ENOENT) return io_error(where + tmp, errno);
  // Same file system: the received data (verified and fsynced by
  // complete_partial) becomes the delivered file by a hard link, not a copy;
  // the spool's own name goes when the object leaves done/. Across file
  // systems (EXDEV) or where links are not allowed, the copy below is made.
  const std::string received_path = spool.data_path(id, State::received);
  bool linked = false;
  if (::linkat(AT_FDCWD, received_path.c_str(), dir->get(), tmp.c_str(), 0) == 0) {
    // Read once more, as the copy would: bytes that no longer match their
    // record (a disk error, a tampered spool) are never delivered.
    if (!holds_object(dir->get(), tmp, *record)) {
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      return make_error(Errc::verify_failed, received_path + ": does not match its record's size and SM3; not delivered");
    }
    if (::fchmodat(dir->get(), tmp.c_str(), kDeliveredFileMode, 0) == 0) {
      linked = true;
    } else {
      ::unlinkat(dir->get(), tmp.c_str(), 0);
    }
  }
  if (!linked) {
    Fd out(::openat(dir->get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kDeliveredFileMode));
    if (!out.valid()) return io_error(where + tmp, errno);
    const std::string data_path = spool.data_path(id, State::received);
    Fd in(::open(data_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in.valid()) {
      const int err = errno;
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      return io_error(data_path, err);
    }
    Result<internal::Digested> copied = internal::copy_and_hash(in.get(), out.get(), data_path, where + tmp);
    Status s = copied.ok() ? Status() : Status(copied.error());
    if (s.ok() && (copied->size != record->size || !crypto::equal_constant_time(copied->sm3, record->sm3))) {
      s = make_error(Errc::verify_failed, data_path + ": does not match its record's size and SM3; not delivered");
    }
    if (s.ok() && ::fchmod(out.get(), kDeliveredFileMode) != 0) s = io_error(where + tmp, errno);
    if (s.ok()) s = internal::fsync_fd(out.get(), where + tmp);
    if (!s.ok()) {
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      return s.error();
    }
  }

  const std::array<std::string, 4> candidates = {base, suffixed_name(base, id, 8), suffixed_name(base, id, 16),
                                                 suffixed_name(base, id, 32)};
  for (const std::string& name : candidates) {
    if (name_taken(dir->get(), name)) continue;
    // Recorded before the rename, so a crash after it can be recognised.
    Result<ObjectRecord> updated =
        spool.update(id, State::received, [&](ObjectRecord& r) { r.delivered_name = prefix + name; });
    if (!updated.ok()) {
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      return updated.error();
    }
    const int err = internal::rename_noreplace(dir->get(), tmp, dir->get(), name);
    if (err == EEXIST) continue;
    if (err != 0) {
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      return io_error(where + name, err);
    }
    return finish(name, false);
  }
  ::unlinkat(dir->get(), tmp.c_str(), 0);
  return make_error(Errc::exhausted, where + base + ": the name and all its suffixed forms are taken");
}

}  // namespace ferry::spool

namespace ferry::spool {

std::vector<Result<Delivery>> deliver_batch(Spool& spool, const std::vector<DeliveryRequest>& requests) {
  struct Pending {
    std::size_t index;
    Fd dir;
    std::string where, prefix, tmp, name, base;
  };
  std::vector<Result<Delivery>> out;
  out.reserve(requests.size());
  std::vector<Pending> pending;
  std::set<std::string> chosen;  // where + name, so two objects of the batch never pick one name
  // A spool copy that fails to go is harmless: the object comes back in
  // received/ or done/ at the next start, and is found delivered.
  auto leave = [&](const ObjectId& id, State state) { (void)spool.forget(id, state); };

  // Steps 1-3 for each object, and the choice of its name.
  std::unordered_set<ObjectId> seen;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const ObjectId& id = requests[i].id;
    const std::string& deliver_dir = requests[i].deliver_dir;
    if (!seen.insert(id).second) {
      out.emplace_back(make_error(Errc::invalid_argument, "object " + id.hex() + " appears more than once in one batch"));
      continue;
    }
    Result<ObjectRecord> record = spool.read(id, State::received);
    if (!record.ok()) {
      out.emplace_back(record.error());
      continue;
    }
    if (Status s = check_relative_name(record->path); !s.ok()) {
      out.emplace_back(s.error());
      continue;
    }
    const std::string& rel = record->path;
    const std::size_t slash = rel.rfind('/');
    const std::string dir_part = slash == std::string::npos ? "" : rel.substr(0, slash);
    const std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
    const std::string prefix = dir_part.empty() ? "" : dir_part + "/";
    const std::string where = deliver_dir + "/" + prefix;
    if (record->delivered_name) {
      // deliver() began this one (it records the name): it finishes it.
      out.emplace_back(deliver(spool, id, deliver_dir));
      if (out.back().ok()) leave(id, State::done);
      continue;
    }
    Result<Fd> root = internal::open_directory(deliver_dir);
    Result<Fd> dir = root.ok() ? open_or_make_directories(root->get(), dir_part, deliver_dir) : Result<Fd>(root.error());
    if (!dir.ok()) {
      out.emplace_back(dir.error());
      continue;
    }
    const std::string received_path = spool.data_path(id, State::received);
    struct stat data;
    if (::lstat(received_path.c_str(), &data) != 0) {
      out.emplace_back(io_error(received_path, errno));
      continue;
    }
    // Delivered before a crash cut the object's removal short? Then one of
    // its names is a hard link to this very data file; that identity, not a
    // recorded name, is the proof, so a batch needs no record update.
    const std::array<std::string, 4> candidates = {base, suffixed_name(base, id, 8), suffixed_name(base, id, 16),
                                                   suffixed_name(base, id, 32)};
    std::string found, name;
    for (const std::string& candidate : candidates) {
      struct stat st;
      if (::fstatat(dir->get(), candidate.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (st.st_dev == data.st_dev && st.st_ino == data.st_ino) {
          found = candidate;
          break;
        }
      } else if (errno == ENOENT && name.empty() && !chosen.contains(where + candidate)) {
        name = candidate;
      }
    }
    if (!found.empty()) {
      if (Status s = internal::fsync_fd(dir->get(), where); !s.ok()) {
        out.emplace_back(s.error());
        continue;
      }
      leave(id, State::received);
      out.emplace_back(Delivery{deliver_dir + "/" + prefix + found, prefix + found, found != base, true});
      continue;
    }
    if (name.empty()) {
      out.emplace_back(make_error(Errc::exhausted, where + base + ": the name and all its suffixed forms are taken"));
      continue;
    }
    const std::string tmp = std::string(kReservedPrefix) + "deliver." + id.hex() + ".tmp";
    if (::unlinkat(dir->get(), tmp.c_str(), 0) != 0 && errno != ENOENT) {
      out.emplace_back(io_error(where + tmp, errno));
      continue;
    }
    if (::linkat(AT_FDCWD, received_path.c_str(), dir->get(), tmp.c_str(), 0) != 0) {
      // No hard link here (another file system, or links not allowed):
      // deliver() copies, recording the name it chose.
      out.emplace_back(deliver(spool, id, deliver_dir));
      if (out.back().ok()) leave(id, State::done);
      continue;
    }
    // Read once more, as the copy would: bytes that no longer match their
    // record (a disk error, a tampered spool) are never delivered. Checked
    // before the mode changes, so a refused object keeps the spool's 0600.
    if (!requests[i].verified_now && !holds_object(dir->get(), tmp, *record)) {
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      out.emplace_back(
          make_error(Errc::verify_failed, received_path + ": does not match its record's size and SM3; not delivered"));
      continue;
    }
    if (::fchmodat(dir->get(), tmp.c_str(), kDeliveredFileMode, 0) != 0) {
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      out.emplace_back(deliver(spool, id, deliver_dir));
      if (out.back().ok()) leave(id, State::done);
      continue;
    }
    chosen.insert(where + name);
    pending.push_back({i, std::move(*dir), where, prefix, tmp, name, base});
    out.emplace_back(Delivery{});
  }

  // Step 5: the renames, one barrier over their directories.
  fs::SyncBarrier barrier;
  std::vector<std::size_t> renamed;
  for (std::size_t k = 0; k < pending.size(); ++k) {
    Pending& p = pending[k];
    const ObjectId& id = requests[p.index].id;
    const int err = internal::rename_noreplace(p.dir.get(), p.tmp, p.dir.get(), p.name);
    if (err != 0) {
      ::unlinkat(p.dir.get(), p.tmp.c_str(), 0);
      if (err == EEXIST) {
        // Taken since the check: deliver() picks the next name.
        out[p.index] = deliver(spool, id, requests[p.index].deliver_dir);
        if (out[p.index].ok()) leave(id, State::done);
      } else {
        out[p.index] = io_error(p.where + p.name, err);
      }
      continue;
    }
    barrier.directory(p.where);
    out[p.index] = Delivery{requests[p.index].deliver_dir + "/" + p.prefix + p.name, p.prefix + p.name,
                            p.name != p.base, false};
    renamed.push_back(k);
  }
  if (Status s = barrier.commit(); !s.ok()) {
    // In place, but not known durable: the objects stay in received/, and a
    // later attempt finds them by their data's inode.
    for (std::size_t k : renamed) out[pending[k].index] = s.error();
    return out;
  }
  // Step 6: the spool's copies go.
  for (std::size_t k : renamed) leave(requests[pending[k].index].id, State::received);
  return out;
}

}  // namespace ferry::spool

#include "ferry/spool/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "ferry/fs/durable_file.h"
#include "ferry/spool/src/spool_impl.h"

namespace ferry::spool {

using crypto::Errc;
using crypto::make_error;
using internal::Fd;
using internal::io_error;

namespace {

Status make_directory(const std::string& path, bool& created) {
  if (::mkdir(path.c_str(), 0700) == 0) {
    created = true;
    return {};
  }
  if (errno != EEXIST) return io_error(path, errno);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return io_error(path, errno);
  if (!S_ISDIR(st.st_mode)) return make_error(Errc::io, path + ": not a directory (a symlink is refused)");
  return {};
}

}  // namespace

std::optional<ObjectId> id_of_name(std::string_view name, std::string_view suffix) {
  if (name.size() != ObjectId::kHexSize + 1 + suffix.size()) return std::nullopt;
  if (name[ObjectId::kHexSize] != '.' || name.substr(ObjectId::kHexSize + 1) != suffix) return std::nullopt;
  return ObjectId::parse(name.substr(0, ObjectId::kHexSize));
}

Result<Fd> Spool::Impl::open_tmp(const std::string& path) {
  for (;;) {
    std::string spare;
    {
      std::lock_guard<std::mutex> guard(spares_mutex);
      if (spares.empty()) break;
      spare = std::move(spares.back());
      spares.pop_back();
    }
    if (::rename(spare.c_str(), path.c_str()) != 0) continue;
    // Not O_TRUNC: the caller overwrites from offset 0 and cuts the file to
    // what it wrote, so a same-sized rewrite frees and allocates no blocks
    // (which on a file system mounted with `discard` costs a device trim).
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.valid()) return fd;
    ::unlink(path.c_str());
  }
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return io_error(path, errno);
  return fd;
}

void Spool::Impl::recycle(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
    std::string spare;
    {
      std::lock_guard<std::mutex> guard(spares_mutex);
      if (spares.size() < kMaxSpares) spare = tmp_dir() + "/spare." + std::to_string(spare_serial++);
    }
    if (!spare.empty() && ::rename(path.c_str(), spare.c_str()) == 0) {
      std::lock_guard<std::mutex> guard(spares_mutex);
      spares.push_back(std::move(spare));
      return;
    }
  }
  ::unlink(path.c_str());
}

Result<std::string> Spool::Impl::write_record_tmp(const ObjectRecord& record, fs::SyncBarrier* defer) {
  Result<std::string> text = encode_record(record);
  if (!text.ok()) return text.error();
  const std::string path = tmp_record_path(record.id);
  Result<Fd> opened = open_tmp(path);
  if (!opened.ok()) return opened.error();
  Fd fd = std::move(*opened);
  Status s = internal::write_all(fd.get(), crypto::as_bytes(*text), path);
  if (s.ok() && ::ftruncate(fd.get(), static_cast<off_t>(text->size())) != 0) s = io_error(path, errno);
  if (s.ok() && defer == nullptr) s = internal::fsync_fd(fd.get(), path);
  if (!s.ok()) {
    ::unlink(path.c_str());
    return s.error();
  }
  if (defer != nullptr) defer->file(std::move(fd), path);
  return path;
}

Result<ObjectRecord> Spool::Impl::read_record(const ObjectId& id, State state) const {
  const std::string path = record_path(id, state);
  Result<crypto::Bytes> bytes = fs::read_file(path, kMaxRecordBytes);
  if (!bytes.ok()) return bytes.error();
  Result<ObjectRecord> record =
      decode_record(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  if (!record.ok()) return make_error(record.error().code, path + ": " + record.error().message);
  if (record->id != id || record->state != state) {
    return make_error(Errc::bad_format, path + ": the record names another id or state than its place");
  }
  return record;
}

Result<ObjectRecord> Spool::Impl::next_revision(const ObjectRecord& old, State state, const RecordUpdate& update) const {
  ObjectRecord r = old;
  if (update) {
    update(r);
    assert(r.id == old.id && r.revision == old.revision && r.state == old.state && r.created_ms == old.created_ms);
  }
  r.state = state;
  r.revision = old.revision + 1;
  r.updated_ms = clock();
  if (Status s = validate_record(r); !s.ok()) return s.error();
  return r;
}

Spool::Spool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Spool::Spool(Spool&&) noexcept = default;
Spool& Spool::operator=(Spool&&) noexcept = default;
Spool::~Spool() = default;

Result<Spool> Spool::open(const std::string& dir, Clock clock) {
  assert(clock);
  bool created = false;
  if (Status s = make_directory(dir, created); !s.ok()) return s.error();
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->clock = std::move(clock);
  const std::string lock_path = dir + "/lock";
  impl->lock = Fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!impl->lock.valid()) return io_error(lock_path, errno);
  if (::flock(impl->lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return make_error(Errc::io, "spool " + dir + " is in use by another process");
    return io_error(lock_path, errno);
  }
  std::vector<std::string> subdirs = {"tmp", "delivered-ids"};
  for (State s : kAllStates) subdirs.emplace_back(state_name(s));
  for (const std::string& sub : subdirs) {
    if (Status s = make_directory(dir + "/" + sub, created); !s.ok()) return s.error();
  }
  if (created) {
    if (Status s = internal::fsync_path(dir); !s.ok()) return s.error();
    if (Status s = internal::fsync_path(fs::parent_directory(dir)); !s.ok()) return s.error();
  }
  return Spool(std::move(impl));
}

const std::string& Spool::dir() const { return impl_->dir; }
std::string Spool::state_dir(State state) const { return impl_->state_dir(state); }
std::string Spool::data_path(const ObjectId& id, State state) const { return impl_->data_path(id, state); }
std::string Spool::record_path(const ObjectId& id, State state) const { return impl_->record_path(id, state); }
std::string Spool::delivered_ids_dir() const { return impl_->dir + "/delivered-ids"; }
std::int64_t Spool::now_ms() const { return impl_->clock(); }

Result<ObjectRecord> Spool::create(int source_fd, ObjectRecord record, State state) {
  record.state = state;
  record.revision = 1;
  record.created_ms = record.updated_ms = impl_->clock();
  if (Status s = validate_record(record); !s.ok()) return s.error();
  Result<std::optional<State>> existing = find(record.id);
  if (!existing.ok()) return existing.error();
  if (*existing) {
    return make_error(Errc::invalid_argument,
                      "object " + record.id.hex() + " already exists in " + std::string(state_name(**existing)));
  }

  const std::string tmp_data = impl_->tmp_data_path(record.id);
  {
    Fd out(::open(tmp_data.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!out.valid()) return io_error(tmp_data, errno);
    Result<internal::Digested> copied = internal::copy_and_hash(source_fd, out.get(), "source of " + record.id.hex(), tmp_data);
    Status s = copied.ok() ? internal::fsync_fd(out.get(), tmp_data) : Status(copied.error());
    if (!s.ok()) {
      ::unlink(tmp_data.c_str());
      return s.error();
    }
    record.size = copied->size;
    record.sm3 = copied->sm3;
  }
  Result<std::string> tmp_rec = impl_->write_record_tmp(record);
  if (!tmp_rec.ok()) {
    ::unlink(tmp_data.c_str());
    return tmp_rec.error();
  }
  const std::string data = impl_->data_path(record.id, state);
  const std::string rec = impl_->record_path(record.id, state);
  if (::rename(tmp_data.c_str(), data.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_data.c_str());
    ::unlink(tmp_rec->c_str());
    return io_error(data, err);
  }
  if (::rename(tmp_rec->c_str(), rec.c_str()) != 0) {
    const int err = errno;
    ::unlink(data.c_str());
    ::unlink(tmp_rec->c_str());
    return io_error(rec, err);
  }
  if (Status s = internal::fsync_path(impl_->state_dir(state)); !s.ok()) return s.error();
  return record;
}

Result<ObjectRecord> Spool::create_from_file(const std::string& source_path, ObjectRecord record, State state) {
  Fd in(::open(source_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return io_error(source_path, errno);
  return create(in.get(), std::move(record), state);
}

Result<ObjectRecord> Spool::read(const ObjectId& id, State state) const { return impl_->read_record(id, state); }

Result<std::vector<ObjectRecord>> Spool::list(State state) const {
  const std::string dir = impl_->state_dir(state);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (!d) return io_error(dir, errno);
  std::vector<ObjectRecord> out;
  errno = 0;
  while (struct dirent* e = ::readdir(d.get())) {
    if (std::optional<ObjectId> id = id_of_name(e->d_name, "rec")) {
      Result<ObjectRecord> r = impl_->read_record(*id, state);
      if (!r.ok()) return r.error();
      out.push_back(std::move(*r));
    }
    errno = 0;
  }
  if (errno != 0) return io_error(dir, errno);
  std::sort(out.begin(), out.end(), [](const ObjectRecord& a, const ObjectRecord& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
  });
  return out;
}

Result<std::optional<State>> Spool::find(const ObjectId& id) const {
  for (State s : kAllStates) {
    struct stat st;
    const std::string path = impl_->record_path(id, s);
    if (::lstat(path.c_str(), &st) == 0) return std::optional<State>(s);
    if (errno != ENOENT) return io_error(path, errno);
  }
  return std::optional<State>();
}

Result<ObjectRecord> Spool::move(const ObjectId& id, State from, State to, const RecordUpdate& update) {
  assert(from != to);
  Result<ObjectRecord> old = impl_->read_record(id, from);
  if (!old.ok()) return old.error();
  const std::string from_data = impl_->data_path(id, from);
  const std::string to_data = impl_->data_path(id, to);
  const std::string to_rec = impl_->record_path(id, to);
  struct stat st;
  if (::lstat(from_data.c_str(), &st) != 0) return io_error(from_data, errno);
  Result<ObjectRecord> next = impl_->next_revision(*old, to, update);
  if (!next.ok()) return next.error();
  Result<std::string> tmp_rec = impl_->write_record_tmp(*next);
  if (!tmp_rec.ok()) return tmp_rec.error();
  if (::rename(tmp_rec->c_str(), to_rec.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_rec->c_str());
    return io_error(to_rec, err);
  }
  if (::rename(from_data.c_str(), to_data.c_str()) != 0) {
    // Undo the commit so the object stays whole in `from`.
    const int err = errno;
    ::unlink(to_rec.c_str());
    return io_error(to_data, err);
  }
  if (from == State::partial) impl_->partials.erase(id);
  if (Status s = internal::fsync_path(impl_->state_dir(to)); !s.ok()) return s.error();
  const std::string from_rec = impl_->record_path(id, from);
  if (::unlink(from_rec.c_str()) != 0) return io_error(from_rec, errno);
  if (Status s = internal::fsync_path(impl_->state_dir(from)); !s.ok()) return s.error();
  return next;
}

Result<ObjectRecord> Spool::update(const ObjectId& id, State state, const RecordUpdate& update) {
  Result<ObjectRecord> old = impl_->read_record(id, state);
  if (!old.ok()) return old.error();
  Result<ObjectRecord> next = impl_->next_revision(*old, state, update);
  if (!next.ok()) return next.error();
  Result<std::string> tmp_rec = impl_->write_record_tmp(*next);
  if (!tmp_rec.ok()) return tmp_rec.error();
  const std::string rec = impl_->record_path(id, state);
  if (::rename(tmp_rec->c_str(), rec.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_rec->c_str());
    return io_error(rec, err);
  }
  if (Status s = internal::fsync_path(impl_->state_dir(state)); !s.ok()) return s.error();
  if (auto it = impl_->partials.find(id); it != impl_->partials.end() && state == State::partial) {
    it->second.record = *next;
  }
  return next;
}

Status Spool::discard(const ObjectId& id, State state) {
  const std::string rec = impl_->record_path(id, state);
  if (::unlink(rec.c_str()) != 0) return io_error(rec, errno);
  if (state == State::partial) impl_->partials.erase(id);
  if (Status s = internal::fsync_path(impl_->state_dir(state)); !s.ok()) return s.error();
  const std::string data = impl_->data_path(id, state);
  if (::unlink(data.c_str()) != 0 && errno != ENOENT) return io_error(data, errno);
  return {};
}

}  // namespace ferry::spool

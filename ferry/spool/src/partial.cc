// The receiving side's partial objects: chunks written at offsets into
// partial/<id>.data, verified as a whole before they move to received/.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "ferry/spool/spool.h"
#include "ferry/spool/src/spool_impl.h"

namespace ferry::spool {

using crypto::Errc;
using crypto::make_error;
using internal::Fd;
using internal::io_error;

namespace {

bool same_metadata(const ObjectRecord& a, const ObjectRecord& b) {
  return a.channel == b.channel && a.path == b.path && a.size == b.size;
}

crypto::Error metadata_mismatch(const ObjectId& id) {
  return make_error(Errc::invalid_argument,
                    "partial object " + id.hex() + " exists with another channel, path or size; discard it first");
}

}  // namespace

namespace {

Status hash_prefix(PartialFile& p, const std::string& path) {
  std::vector<std::uint8_t> buf(1 << 20);
  std::uint64_t at = 0;
  while (at < p.size) {
    const ssize_t n = ::pread(p.fd.get(), buf.data(), std::min<std::uint64_t>(buf.size(), p.size - at),
                              static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(path, errno);
    if (n == 0) return make_error(Errc::io, path + ": shorter than its size");
    p.sm3.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
    at += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace

Result<PartialFile*> Spool::Impl::partial(const ObjectId& id) {
  if (auto it = partials.find(id); it != partials.end()) return &it->second;
  Result<ObjectRecord> record = read_record(id, State::partial);
  if (!record.ok()) return record.error();
  const std::string path = data_path(id, State::partial);
  // Recovery makes a missing data file; one missing now means a transfer
  // that must start again from zero, which an empty file expresses.
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return io_error(path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return io_error(path, errno);
  PartialFile p;
  p.fd = std::move(fd);
  p.record = std::move(*record);
  p.size = static_cast<std::uint64_t>(st.st_size);
  if (p.size > p.record.size) {
    return make_error(Errc::bad_format, path + ": holds more bytes than the record declares");
  }
  // Resuming: what is already there is hashed once, so that the hash runs on
  // with the new bytes.
  if (Status s = hash_prefix(p, path); !s.ok()) return s.error();
  p.writeback_from = p.size;
  return &partials.emplace(id, std::move(p)).first->second;
}

Result<std::uint64_t> Spool::open_partial(const ObjectRecord& wanted) {
  const ObjectId& id = wanted.id;
  struct stat st;
  const std::string rec_path = impl_->record_path(id, State::partial);
  const bool exists = ::lstat(rec_path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return io_error(rec_path, errno);
  if (exists || impl_->partials.count(id) != 0) {
    Result<PartialFile*> p = impl_->partial(id);
    if (!p.ok()) return p.error();
    if (!same_metadata((*p)->record, wanted)) return metadata_mismatch(id);
    return partial_size(id);
  }

  Result<std::optional<State>> elsewhere = find(id);
  if (!elsewhere.ok()) return elsewhere.error();
  if (*elsewhere) {
    return make_error(Errc::invalid_argument,
                      "object " + id.hex() + " is already in " + std::string(state_name(**elsewhere)));
  }
  ObjectRecord record = wanted;
  record.state = State::partial;
  record.revision = 1;
  record.created_ms = record.updated_ms = impl_->clock();
  if (Status s = validate_record(record); !s.ok()) return s.error();

  const std::string data = impl_->data_path(id, State::partial);
  // O_TRUNC: a data file without a record is an uncommitted leftover.
  Fd fd(::open(data.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return io_error(data, errno);
  Result<std::string> tmp_rec = impl_->write_record_tmp(record);
  if (!tmp_rec.ok()) return tmp_rec.error();
  if (::rename(tmp_rec->c_str(), rec_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_rec->c_str());
    return io_error(rec_path, err);
  }
  if (Status s = internal::fsync_path(impl_->state_dir(State::partial)); !s.ok()) return s.error();
  PartialFile p;
  p.fd = std::move(fd);
  p.record = std::move(record);
  impl_->partials.emplace(id, std::move(p));
  return std::uint64_t{0};
}

Result<std::uint64_t> Spool::partial_size(const ObjectId& id) {
  Result<PartialFile*> p = impl_->partial(id);
  if (!p.ok()) return p.error();
  if (Status s = internal::fsync_fd((*p)->fd.get(), impl_->data_path(id, State::partial)); !s.ok()) return s.error();
  return (*p)->size;
}

Status Spool::write_partial(const ObjectId& id, std::uint64_t offset, ByteView bytes) {
  Result<PartialFile*> found = impl_->partial(id);
  if (!found.ok()) return found.error();
  PartialFile& p = **found;
  if (offset > p.size) {
    return make_error(Errc::invalid_argument, "partial object " + id.hex() + ": write at " + std::to_string(offset) +
                                                  " would leave a gap after " + std::to_string(p.size) + " bytes");
  }
  if (offset > p.record.size || bytes.size() > p.record.size - offset) {
    return make_error(Errc::invalid_argument, "partial object " + id.hex() + ": write past the declared size of " +
                                                  std::to_string(p.record.size) + " bytes");
  }
  if (Status s = internal::pwrite_all(p.fd.get(), bytes, offset, impl_->data_path(id, State::partial)); !s.ok()) {
    return s;
  }
  if (offset == p.size) {
    p.sm3.update(bytes);
  } else {
    p.hashed_ok = false;  // rewrote bytes already hashed: complete_partial reads the file
  }
  p.size = std::max(p.size, offset + bytes.size());
  if (p.size - p.writeback_from >= internal::kWritebackStride) {
    // Start writing back what is complete; no wait (the fsync in
    // complete_partial is what makes it durable).
    ::sync_file_range(p.fd.get(), static_cast<off_t>(p.writeback_from), static_cast<off_t>(p.size - p.writeback_from),
                      SYNC_FILE_RANGE_WRITE);
    p.writeback_from = p.size;
  }
  return {};
}

Result<ObjectRecord> Spool::complete_partial(const ObjectId& id, std::uint64_t size, const crypto::Sm3Digest& sm3) {
  Result<PartialFile*> found = impl_->partial(id);
  if (!found.ok()) return found.error();
  PartialFile& p = **found;
  const std::string path = impl_->data_path(id, State::partial);
  if (Status s = internal::fsync_fd(p.fd.get(), path); !s.ok()) return s.error();
  Result<internal::Digested> have = internal::Digested{p.size, {}};
  if (p.hashed_ok) {
    have->sm3 = p.sm3.finish();
    p.hashed_ok = false;  // finish() reset it: a retry reads the file
  } else {
    have = internal::hash_file(p.fd.get(), path);
    if (!have.ok()) return have.error();
  }
  if (have->size != size || size != p.record.size || !crypto::equal_constant_time(have->sm3, sm3)) {
    return make_error(Errc::verify_failed, "partial object " + id.hex() + ": have " + std::to_string(have->size) +
                                               " bytes with SM3 " + crypto::to_hex(have->sm3) + ", expected " +
                                               std::to_string(size) + " bytes with SM3 " + crypto::to_hex(sm3));
  }
  return move(id, State::partial, State::received, [&](ObjectRecord& r) {
    r.size = have->size;
    r.sm3 = have->sm3;
  });
}

}  // namespace ferry::spool

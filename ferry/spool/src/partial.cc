// The receiving side's partial objects: chunks written at offsets into
// partial/<id>.data, verified as a whole before they move to received/.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

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
  p.size = std::max(p.size, offset + bytes.size());
  return {};
}

Result<ObjectRecord> Spool::complete_partial(const ObjectId& id, std::uint64_t size, const crypto::Sm3Digest& sm3) {
  Result<PartialFile*> found = impl_->partial(id);
  if (!found.ok()) return found.error();
  PartialFile& p = **found;
  const std::string path = impl_->data_path(id, State::partial);
  if (Status s = internal::fsync_fd(p.fd.get(), path); !s.ok()) return s.error();
  Result<internal::Digested> have = internal::hash_file(p.fd.get(), path);
  if (!have.ok()) return have.error();
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

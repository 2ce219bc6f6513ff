// System-call helpers shared by the spool's implementation files: an owning
// file descriptor, errno turned into an Error value, whole writes, fsync, and
// copying with SM3 computed on the way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm3.h"
#include "ferry/fs/fd.h"

namespace ferry::spool::internal {

using crypto::ByteView;
using crypto::Result;
using crypto::Status;

using Fd = fs::Fd;

crypto::Error io_error(const std::string& what, int err);

// Large files being written start their writeback every this many bytes
// (sync_file_range, no wait), so the fsync that makes them durable is short.
inline constexpr std::uint64_t kWritebackStride = std::uint64_t{8} << 20;

Status write_all(int fd, ByteView data, const std::string& what);
Status pwrite_all(int fd, ByteView data, std::uint64_t offset, const std::string& what);
Status fsync_fd(int fd, const std::string& what);
Status fsync_path(const std::string& dir);

struct Digested {
  std::uint64_t size = 0;
  crypto::Sm3Digest sm3{};
};

// Reads `in` from its current offset to the end; writes the bytes to `out`
// when out >= 0. Returns the byte count and their SM3.
Result<Digested> copy_and_hash(int in, int out, const std::string& in_what, const std::string& out_what);

// SM3 of the whole file, read with pread from offset 0.
Result<Digested> hash_file(int fd, const std::string& what);

// renameat2(RENAME_NOREPLACE), or link+unlink on file systems without it.
// Returns 0 or an errno value (EEXIST when the target is taken).
int rename_noreplace(int old_dir, const std::string& old_name, int new_dir, const std::string& new_name);

}  // namespace ferry::spool::internal

namespace ferry::spool::internal {

// A directory named by the configuration (symlinks followed: the operator
// chose it).
Result<Fd> open_directory(const std::string& path);
// One component below `parent`, never through a symlink (O_NOFOLLOW).
Result<Fd> open_subdirectory(int parent, const std::string& name, const std::string& what);
// Each '/'-separated component of `relative` below `root`, with O_NOFOLLOW;
// an empty `relative` opens `root` itself again.
Result<Fd> open_relative_directory(int root, std::string_view relative, const std::string& what);
// The entries of a directory except "." and "..", unsorted.
Result<std::vector<std::string>> list_names(int dir, const std::string& what);

}  // namespace ferry::spool::internal

// Files that survive a crash: every change is write, fsync, rename, fsync the
// directory, so after a power cut a reader sees the old file or the new one,
// never a torn mix (Postfix's queue discipline).
#pragma once

#include <sys/types.h>

#include <string>

#include "crypto/bytes.h"
#include "crypto/result.h"

namespace ferry::fs {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Result;
using crypto::Status;

// Creates `path` holding `data` with permission bits `mode`, and fails with
// Errc::io ("... exists") rather than replace a file already there. The data
// is written under a temporary name in the same directory and moved into
// place with renameat2(RENAME_NOREPLACE) (or link(2) where the file system
// lacks it), so the final name never holds a partial file.
Status write_new_file(const std::string& path, ByteView data, mode_t mode);

// Atomically replaces (or creates) `path`: temp, fsync, rename, fsync dir.
Status replace_file(const std::string& path, ByteView data, mode_t mode);

// Reads a whole file of at most max_size bytes (a larger one is an error, so
// a hostile path cannot make us allocate without bound).
Result<Bytes> read_file(const std::string& path, std::size_t max_size);

Status fsync_directory(const std::string& dir);

// mkdir -p: creates `dir` and its missing parents with `mode`; an existing
// directory is fine, an existing non-directory is an error.
Status make_directories(const std::string& dir, mode_t mode);

// "dir" of "dir/name"; "." when there is no slash.
std::string parent_directory(const std::string& path);

}  // namespace ferry::fs

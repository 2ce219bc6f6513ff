// ZIP packages and archives, read from memory: the central directory walked
// by ferry itself, member data inflated by libarchive.
//
// Why both: type detection and the archive limits need what the central
// directory says about each member before anything is inflated (compressed
// and expanded sizes, the encryption flag, Unix mode bits for links, the
// order and the names), and a second view that does not share libarchive's
// parser is what makes "two independent means" true for ZIP-based types.
// Decompression is libarchive's (zip format, seekable reader: it follows the
// central directory, as every ZIP consumer the receiving side runs does).
//
// References: PKWARE APPNOTE.TXT 6.3.10, sections 4.3.12 (central directory
// file header), 4.3.14-4.3.16 (ZIP64 end records and the end of central
// directory record), 4.4.4 (general purpose flags), 4.5.3 (ZIP64 extra).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace ferry::pipeline {

struct ZipMember {
  std::string name;  // as stored (CP437 or UTF-8 by flag 11; ferry checks names as bytes)
  std::uint64_t compressed = 0;
  std::uint64_t expanded = 0;
  std::uint64_t local_offset = 0;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint16_t made_by = 0;                // high byte: host system (3 = Unix)
  std::uint32_t external_attributes = 0;    // Unix: st_mode in the high 16 bits

  bool encrypted() const { return (flags & 0x0001) != 0; }  // APPNOTE 4.4.4 bit 0 (and bit 6, strong)
  // The name as UTF-8: as stored when flag 11 says UTF-8 (APPNOTE 4.4.4,
  // Appendix D) or it is valid UTF-8 anyway; otherwise read as GB18030,
  // which is what archivers on Chinese Windows write (code page 936, of
  // which GB18030 is a superset). Empty when it is neither.
  std::string utf8_name() const;
  bool directory() const { return !name.empty() && name.back() == '/'; }
  // Unix file type bits from the external attributes (APPNOTE 4.4.15 with
  // Info-ZIP's convention): a symbolic link, or anything other than a file
  // or directory.
  bool symlink() const;
  bool special() const;
};

struct ZipDirectory {
  std::vector<ZipMember> members;  // in central-directory order
};

// Caps that keep the walk itself bounded on hostile input.
inline constexpr std::size_t kMaxZipDirectoryMembers = 1'000'000;

// The central directory of `bytes`, checked for consistency: the end record
// found in the last 64 KiB + 22 bytes, the directory inside the file and of
// the size it claims, every header's signature and lengths, every local
// header where the directory says, and the member count matching.
crypto::Result<ZipDirectory> read_zip_directory(std::string_view bytes);

// Member data inflated by libarchive, in central-directory order. Each
// member's bytes are delivered in pieces to `sink`; reading stops (and
// read_members returns the sink's error) as soon as the sink refuses a
// piece, so a limit is enforced while inflating, not after.
struct ZipEntryInfo {
  std::string name;
  bool regular = true;    // false: directory, link or special (no data is read)
  bool encrypted = false; // libarchive's view (traditional, AES)
};
class ZipMemberSink {
 public:
  virtual ~ZipMemberSink() = default;
  // Return false to skip this member's data.
  virtual crypto::Result<bool> begin(const ZipEntryInfo& entry) = 0;
  virtual crypto::Status data(std::string_view piece) = 0;
  virtual crypto::Status end() = 0;
};
crypto::Status read_members(std::string_view bytes, ZipMemberSink& sink);

// One member's bytes, at most `limit` of them (more is an error naming the
// member and the limit). Not found is an error too.
crypto::Result<std::string> read_member(std::string_view bytes, std::string_view name, std::uint64_t limit);

}  // namespace ferry::pipeline

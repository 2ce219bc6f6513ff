#include "ferry/pipeline/zip.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unicode/ucnv.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <array>
#include <optional>

namespace ferry::pipeline {
namespace {

using crypto::Errc;
using crypto::make_error;
using crypto::Result;
using crypto::Status;

constexpr std::uint32_t kLocalHeader = 0x04034b50;        // APPNOTE 4.3.7
constexpr std::uint32_t kCentralHeader = 0x02014b50;      // 4.3.12
constexpr std::uint32_t kEndRecord = 0x06054b50;          // 4.3.16
constexpr std::uint32_t kZip64EndRecord = 0x06064b50;     // 4.3.14
constexpr std::uint32_t kZip64EndLocator = 0x07064b50;    // 4.3.15
constexpr std::size_t kEndRecordSize = 22;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EndRecordSize = 56;

// Little-endian reads with the bounds checked by the caller.
std::uint16_t u16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}
std::uint32_t u32(std::string_view b, std::size_t at) {
  return static_cast<std::uint32_t>(u16(b, at)) | static_cast<std::uint32_t>(u16(b, at + 2)) << 16;
}
std::uint64_t u64(std::string_view b, std::size_t at) {
  return static_cast<std::uint64_t>(u32(b, at)) | static_cast<std::uint64_t>(u32(b, at + 4)) << 32;
}

crypto::Error bad(std::string what) { return make_error(Errc::bad_format, "ZIP: " + std::move(what)); }

bool fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

// The end record: the last signature in the final 64 KiB + 22 bytes whose
// comment length reaches exactly to the end of the file. Bytes after it
// would be a second file glued on (a polyglot); they are refused.
Result<std::size_t> find_end_record(std::string_view b) {
  if (b.size() < kEndRecordSize) return bad("too short for an end of central directory record");
  const std::size_t last = b.size() - kEndRecordSize;
  const std::size_t first = last > 0xffff ? last - 0xffff : 0;
  std::optional<std::size_t> any;
  for (std::size_t at = last + 1; at-- > first;) {
    if (u32(b, at) != kEndRecord) continue;
    if (!any) any = at;
    if (at + kEndRecordSize + u16(b, at + 20) == b.size()) return at;
  }
  if (any) {
    return bad(std::to_string(b.size() - (*any + kEndRecordSize + u16(b, *any + 20))) +
               " bytes after the end of central directory record (another file appended?)");
  }
  return bad("no end of central directory record");
}

}  // namespace

namespace {

// `bytes` in `charset` as UTF-8, or nullopt at the first invalid sequence
// (ICU with a stop callback: nothing is replaced by U+FFFD).
std::optional<std::string> to_utf8(std::string_view bytes, const char* charset) {
  UErrorCode e = U_ZERO_ERROR;
  UConverter* cnv = ucnv_open(charset, &e);
  if (U_FAILURE(e)) return std::nullopt;
  ucnv_setToUCallBack(cnv, UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &e);
  std::u16string units(bytes.size() + 1, u'\0');
  const int32_t n = ucnv_toUChars(cnv, units.data(), static_cast<int32_t>(units.size()), bytes.data(),
                                  static_cast<int32_t>(bytes.size()), &e);
  ucnv_close(cnv);
  if (U_FAILURE(e)) return std::nullopt;
  std::string out(static_cast<std::size_t>(n) * 3 + 1, '\0');
  int32_t len = 0;
  u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &len, units.data(), n, &e);
  if (U_FAILURE(e)) return std::nullopt;
  out.resize(static_cast<std::size_t>(len));
  return out;
}

}  // namespace

std::string ZipMember::utf8_name() const {
  if (std::optional<std::string> u = to_utf8(name, "UTF-8")) return *u;
  if ((flags & 0x0800) != 0) return {};  // claims UTF-8 and is not
  if (std::optional<std::string> g = to_utf8(name, "GB18030")) return *g;
  return {};
}

bool ZipMember::symlink() const {
  return (made_by >> 8) == 3 && ((external_attributes >> 16) & S_IFMT) == S_IFLNK;
}

bool ZipMember::special() const {
  if ((made_by >> 8) != 3) return false;
  const std::uint32_t type = (external_attributes >> 16) & S_IFMT;
  return type != 0 && type != S_IFREG && type != S_IFDIR;
}

Result<ZipDirectory> read_zip_directory(std::string_view b) {
  Result<std::size_t> end = find_end_record(b);
  if (!end.ok()) return end.error();
  const std::size_t e = *end;
  if (u16(b, e + 4) != 0 || u16(b, e + 6) != 0) return bad("spanned (multi-disk) archives are not accepted");
  std::uint64_t count = u16(b, e + 10);
  std::uint64_t dir_size = u32(b, e + 12);
  std::uint64_t dir_offset = u32(b, e + 16);
  std::uint64_t dir_end = e;  // where the central directory must stop
  if (count == 0xffff || dir_size == 0xffffffff || dir_offset == 0xffffffff) {
    // ZIP64 (4.3.14, 4.3.15): the locator right before the end record.
    if (e < kZip64LocatorSize || u32(b, e - kZip64LocatorSize) != kZip64EndLocator) {
      return bad("the end record needs ZIP64 values but has no ZIP64 locator");
    }
    const std::uint64_t at = u64(b, e - kZip64LocatorSize + 8);
    if (!fits(at, kZip64EndRecordSize, e - kZip64LocatorSize) || u32(b, at) != kZip64EndRecord) {
      return bad("the ZIP64 locator does not point to a ZIP64 end record");
    }
    if (u32(b, at + 16) != 0 || u32(b, at + 20) != 0) return bad("spanned (multi-disk) archives are not accepted");
    count = u64(b, at + 32);
    dir_size = u64(b, at + 40);
    dir_offset = u64(b, at + 48);
    dir_end = at;
  }
  if (!fits(dir_offset, dir_size, b.size()) || dir_offset + dir_size != dir_end) {
    return bad("the central directory (offset " + std::to_string(dir_offset) + ", " + std::to_string(dir_size) +
               " bytes) is not where the end record is (" + std::to_string(dir_end) +
               "): data before the archive or a damaged file");
  }
  if (count > kMaxZipDirectoryMembers || count > dir_size / kCentralHeaderSize) {
    return bad("the end record claims " + std::to_string(count) + " members, more than its directory can hold");
  }

  ZipDirectory dir;
  dir.members.reserve(static_cast<std::size_t>(count));
  std::uint64_t at = dir_offset;
  for (std::uint64_t n = 0; n < count; ++n) {
    if (!fits(at, kCentralHeaderSize, dir_end) || u32(b, at) != kCentralHeader) {
      return bad("central directory header " + std::to_string(n + 1) + " is damaged");
    }
    ZipMember m;
    m.made_by = u16(b, at + 4);
    m.flags = u16(b, at + 8);
    m.method = u16(b, at + 10);
    m.compressed = u32(b, at + 20);
    m.expanded = u32(b, at + 24);
    const std::size_t name_len = u16(b, at + 28), extra_len = u16(b, at + 30), comment_len = u16(b, at + 32);
    const std::uint16_t disk = u16(b, at + 34);
    m.external_attributes = u32(b, at + 38);
    m.local_offset = u32(b, at + 42);
    if (!fits(at + kCentralHeaderSize, name_len + extra_len + comment_len, dir_end)) {
      return bad("central directory header " + std::to_string(n + 1) + " runs past the directory");
    }
    m.name.assign(b.substr(at + kCentralHeaderSize, name_len));
    // ZIP64 extended information (4.5.3): present values in a fixed order,
    // only those whose 32-bit field is saturated.
    std::string_view extra = b.substr(at + kCentralHeaderSize + name_len, extra_len);
    for (std::size_t x = 0; x + 4 <= extra.size();) {
      const std::uint16_t id = u16(extra, x), len = u16(extra, x + 2);
      if (x + 4 + len > extra.size()) return bad("member '" + m.name + "' has a damaged extra field");
      if (id == 0x0001) {
        std::string_view z = extra.substr(x + 4, len);
        std::size_t p = 0;
        auto take = [&](std::uint64_t& field) -> bool {
          if (field != 0xffffffff) return true;
          if (p + 8 > z.size()) return false;
          field = u64(z, p);
          p += 8;
          return true;
        };
        if (!take(m.expanded) || !take(m.compressed) || !take(m.local_offset)) {
          return bad("member '" + m.name + "' has a short ZIP64 extra field");
        }
      }
      x += 4 + len;
    }
    if (disk != 0 && disk != 0xffff) return bad("spanned (multi-disk) archives are not accepted");
    dir.members.push_back(std::move(m));
    at += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  if (at != dir_end) return bad("the central directory has bytes its headers do not account for");

  // Every local header where the directory says, with the same name, and
  // every member's data in its own range: overlapping members are how a
  // small file expands without nesting (Fifield, "A better zip bomb", 2019).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  ranges.reserve(dir.members.size());
  for (const ZipMember& m : dir.members) {
    if (!fits(m.local_offset, kLocalHeaderSize, dir_offset) || u32(b, m.local_offset) != kLocalHeader) {
      return bad("member '" + m.name + "': no local header at offset " + std::to_string(m.local_offset));
    }
    const std::size_t name_len = u16(b, m.local_offset + 26), extra_len = u16(b, m.local_offset + 28);
    const std::uint64_t data = m.local_offset + kLocalHeaderSize + name_len + extra_len;
    if (!fits(m.local_offset + kLocalHeaderSize, name_len + extra_len, dir_offset) ||
        b.substr(m.local_offset + kLocalHeaderSize, name_len) != m.name) {
      return bad("member '" + m.name + "': the local header names another file");
    }
    if (!fits(data, m.compressed, dir_offset)) {
      return bad("member '" + m.name + "': its data runs past the central directory");
    }
    ranges.emplace_back(m.local_offset, data + m.compressed);
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t k = 1; k < ranges.size(); ++k) {
    if (ranges[k].first < ranges[k - 1].second) {
      return bad("members overlap in the file (offset " + std::to_string(ranges[k].first) +
                 "): a zip bomb without nesting");
    }
  }
  return dir;
}

namespace {

struct ArchiveReader {
  archive* a = archive_read_new();
  ~ArchiveReader() { archive_read_free(a); }
  ArchiveReader() = default;
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;
};

std::string archive_message(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "libarchive error";
}

}  // namespace

Status read_members(std::string_view bytes, ZipMemberSink& sink) {
  ArchiveReader r;
  if (r.a == nullptr) return make_error(Errc::internal, "libarchive: out of memory");
  archive_read_support_format_zip_seekable(r.a);
  if (archive_read_open_memory(r.a, bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return bad(archive_message(r.a));
  }
  std::array<char, 64 * 1024> buffer;
  for (;;) {
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(r.a, &entry);
    if (rc == ARCHIVE_EOF) return Status{};
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return bad(archive_message(r.a));
    ZipEntryInfo info;
    const char* name = archive_entry_pathname(entry);
    info.name = name ? name : "";
    info.regular = archive_entry_filetype(entry) == AE_IFREG && archive_entry_hardlink(entry) == nullptr &&
                   archive_entry_symlink(entry) == nullptr;
    info.encrypted = archive_entry_is_encrypted(entry) != 0;
    Result<bool> wanted = sink.begin(info);
    if (!wanted.ok()) return wanted.error();
    if (!*wanted || !info.regular || info.encrypted) continue;
    for (;;) {
      const la_ssize_t n = archive_read_data(r.a, buffer.data(), buffer.size());
      if (n < 0) return bad("member '" + info.name + "': " + archive_message(r.a));
      if (n == 0) break;
      if (Status s = sink.data({buffer.data(), static_cast<std::size_t>(n)}); !s.ok()) return s;
    }
    if (Status s = sink.end(); !s.ok()) return s;
  }
}

Result<std::string> read_member(std::string_view bytes, std::string_view name, std::uint64_t limit) {
  struct One final : ZipMemberSink {
    std::string_view want;
    std::uint64_t cap;
    std::string out;
    bool found = false;
    Result<bool> begin(const ZipEntryInfo& e) override {
      if (found || e.name != want) return false;
      if (!e.regular) return bad("member '" + e.name + "' is not a regular file");
      if (e.encrypted) return bad("member '" + e.name + "' is encrypted");
      found = true;
      return true;
    }
    Status data(std::string_view piece) override {
      if (out.size() + piece.size() > cap) {
        return bad("member '" + std::string(want) + "' expands beyond " + std::to_string(cap) + " bytes");
      }
      out.append(piece);
      return {};
    }
    Status end() override { return {}; }
  } one;
  one.want = name;
  one.cap = limit;
  if (Status s = read_members(bytes, one); !s.ok()) return s.error();
  if (!one.found) return bad("no member '" + std::string(name) + "'");
  return std::move(one.out);
}

}  // namespace ferry::pipeline

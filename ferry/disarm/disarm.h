// Disarm and rebuild ([disarm], the policy's `sanitize:` steps): each
// function takes an object whose true type the inspection has already
// decided and returns a new object of the same type, built from what the
// format needs to show the document and nothing else, plus one line per
// thing it took out. Model: dangerzone and the "content disarm and
// reconstruction" products: what is not understood is not copied.
//
//   images  JPEG and PNG are decoded to pixels and encoded again
//           (libjpeg-turbo, libpng): no EXIF, XMP, GPS, ICC, comments or
//           text chunks survive; a pixel-count limit stops decompression
//           bombs before the pixels are allocated.
//   pdf     qpdf: JavaScript, /OpenAction and /AA actions, /Launch, embedded
//           files, RichMedia, XFA and form submission are removed; the file
//           is written anew, so nothing after the last %%EOF survives.
//   office  the OOXML package is rebuilt with the allowed parts only: no VBA
//           project or macro content types, no external relationships other
//           than hyperlinks (remote templates, frames, OLE links, remote
//           images), no embedded OLE objects or ActiveX, no DDE fields.
//   ofd     GB/T 33190 packages lose their actions, attachments and scripts.
//
// Every function runs in the sandboxed worker (ferry/sandbox): these parse
// hostile bytes. Errors are values:
//   bad_format  the object cannot be rebuilt (corrupt, or a feature the
//               rebuild does not support); the object is rejected, never
//               passed as it came;
//   exhausted   a limit below was reached.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "policy/policy.h"

namespace ferry::disarm {

struct Limits {
  std::uint64_t max_pixels = 100'000'000;                  // width x height of one image
  std::uint64_t max_output = std::uint64_t{512} << 20;     // bytes of one rebuilt object
  std::uint64_t max_part = std::uint64_t{64} << 20;        // one package member, uncompressed
  std::uint64_t max_package = std::uint64_t{512} << 20;    // all members of one package, uncompressed
};

struct Rebuilt {
  std::string bytes;                 // the rebuilt object, same type as the input
  // What was taken out, one line each, in the officer's terms and naming
  // where: "word/vbaProject.bin (VBA macros)", "/OpenAction (JavaScript) in
  // the catalog", "APP1 Exif (camera data, GPS)", "tEXt chunk 'Comment'".
  // Empty when the object had nothing to remove (it is still rebuilt).
  std::vector<std::string> removed;
};

crypto::Result<Rebuilt> rebuild_jpeg(std::string_view bytes, const Limits& limits = {});
crypto::Result<Rebuilt> rebuild_png(std::string_view bytes, const Limits& limits = {});
crypto::Result<Rebuilt> rebuild_pdf(std::string_view bytes, const Limits& limits = {});
// type: docx, xlsx or pptx.
crypto::Result<Rebuilt> rebuild_ooxml(policy::FileType type, std::string_view bytes, const Limits& limits = {});
crypto::Result<Rebuilt> rebuild_ofd(std::string_view bytes, const Limits& limits = {});

// The step of `sanitize:` that rebuilds objects of a type (images for png
// and jpeg, office for docx/xlsx/pptx, pdf, ofd), or nullopt for types no
// step rebuilds (text, archives: their members are rebuilt one by one).
std::optional<policy::SanitizeStep> step_for(policy::FileType type);

// A zip archive rebuilt member by member: `member` gets each regular file's
// name (as stored, UTF-8) and bytes and returns what to store instead, adding
// to `removed` what it took out; directories are kept; everything else
// (archive comment, extra fields, bytes outside the members) is dropped.
// An error from `member` stops the rebuild and is returned.
using MemberRebuild = std::function<crypto::Result<std::string>(const std::string& name, std::string_view bytes,
                                                                std::vector<std::string>& removed)>;
crypto::Result<Rebuilt> rebuild_zip(std::string_view bytes, const MemberRebuild& member, const Limits& limits = {});

// Whether `channel`'s `sanitize:` steps rebuild objects of `type`.
bool channel_sanitizes(const policy::Channel& channel, policy::FileType type);

// The rebuild for a type, dispatching to the functions above.
crypto::Result<Rebuilt> rebuild(policy::FileType type, std::string_view bytes, const Limits& limits = {});

// Active content still present in an object: what the receiving side checks
// before delivery, and what the worker checks its own output for. One line
// per finding in the terms of `removed` above; empty when there is none.
// Types without active content (text, csv, json, xml, zip as a container)
// give an empty list; archive members are checked by the caller.
crypto::Result<std::vector<std::string>> find_active_content(policy::FileType type, std::string_view bytes,
                                                             const Limits& limits = {});

// Per format, for the dispatcher above.
crypto::Result<std::vector<std::string>> find_active_jpeg(std::string_view bytes);
crypto::Result<std::vector<std::string>> find_active_png(std::string_view bytes);
crypto::Result<std::vector<std::string>> find_active_pdf(std::string_view bytes, const Limits& limits);
crypto::Result<std::vector<std::string>> find_active_ooxml(std::string_view bytes, const Limits& limits);
crypto::Result<std::vector<std::string>> find_active_ofd(std::string_view bytes, const Limits& limits);

}  // namespace ferry::disarm

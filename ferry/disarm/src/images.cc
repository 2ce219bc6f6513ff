// Images ([disarm], `sanitize: images`): JPEG and PNG are decoded to pixels
// and encoded again, so nothing but the pixels crosses: no EXIF (camera,
// GPS), XMP, ICC profile, comment, text chunk, thumbnail or trailing data.
// Before the rebuild each input is walked segment by segment (JPEG markers,
// PNG chunks) to name what it carried; the same walk answers
// find_active_jpeg/png for objects that should already be clean.
// jpeglib.h uses size_t and FILE without declaring them.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/disarm/disarm.h"

namespace ferry::disarm {

namespace {

using crypto::Errc;
using crypto::make_error;

std::uint32_t be16(std::string_view b, std::size_t at) {
  return std::uint32_t{static_cast<unsigned char>(b[at])} << 8 | static_cast<unsigned char>(b[at + 1]);
}

std::uint32_t be32(std::string_view b, std::size_t at) { return be16(b, at) << 16 | be16(b, at + 2); }

bool starts_with_bytes(std::string_view data, std::string_view prefix) {
  return data.size() >= prefix.size() && data.substr(0, prefix.size()) == prefix;
}

// A name or keyword from the file, fit for an audit line: printable ASCII
// only, at most 40 characters.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7F && c != '\'') ? c : '?';
  if (s.size() > 40) out += "...";
  return out;
}

// Whether a TIFF structure (the body of an Exif APP1 after "Exif\0\0", or a
// PNG eXIf chunk) has a GPS IFD: CIPA DC-008 §4.6.3, tag 0x8825 (GPSInfo
// IFD pointer) in the 0th IFD. Every offset is checked against the size;
// a malformed structure simply has no GPS found.
bool tiff_has_gps(std::string_view tiff) {
  if (tiff.size() < 8) return false;
  const bool little = tiff.substr(0, 4) == std::string_view("II*\0", 4);
  if (!little && tiff.substr(0, 4) != std::string_view("MM\0*", 4)) return false;
  auto u16 = [&](std::size_t at) -> std::uint32_t {
    const std::uint32_t v = be16(tiff, at);
    return little ? ((v & 0xFF) << 8 | v >> 8) : v;
  };
  auto u32 = [&](std::size_t at) -> std::uint32_t {
    return little ? (u16(at + 2) << 16 | u16(at)) : (u16(at) << 16 | u16(at + 2));
  };
  const std::uint32_t ifd = u32(4);
  if (ifd > tiff.size() || tiff.size() - ifd < 2) return false;
  const std::uint32_t count = u16(ifd);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint64_t entry = std::uint64_t{ifd} + 2 + std::uint64_t{i} * 12;
    if (entry + 12 > tiff.size()) return false;
    if (u16(static_cast<std::size_t>(entry)) == 0x8825) return true;
  }
  return false;
}

std::string exif_description(std::string_view tiff) {
  return tiff_has_gps(tiff) ? "camera data, GPS position" : "camera data";
}

// ---- JPEG ----

// ITU-T T.81 Annex B: the marker segments of a JPEG, walked without
// decoding. APPn and COM are what a rebuild drops; data after EOI is a
// polyglot's payload or junk.
struct JpegSegments {
  std::vector<std::string> dropped;  // APPn (JFIF and Adobe aside) and COM, in order
  std::vector<std::string> unusual;  // APPn the encoder would write too, but not in its form
  std::size_t after_eoi = 0;
};

// What an APPn or COM segment is, from its identifier (the bytes after the
// length); nullopt for the two the encoder writes itself: JFIF APP0 and the
// Adobe APP14 (colour transform, ISO/IEC 10918-6 §6.5.3 / Adobe TN 5116).
std::optional<std::string> describe_jpeg_segment(unsigned marker, std::string_view body) {
  using namespace std::string_view_literals;
  if (marker == 0xFE) return "COM comment";
  const std::string app = "APP" + std::to_string(marker - 0xE0);
  switch (marker) {
    case 0xE0:
      // JFIF 1.02: 14 bytes, then an optional uncompressed thumbnail, which
      // the encoder never writes and which can hold any picture.
      if (starts_with_bytes(body, "JFIF\0"sv)) {
        return body.size() > 14 ? std::optional<std::string>(app + " JFIF thumbnail image") : std::nullopt;
      }
      if (starts_with_bytes(body, "JFXX\0"sv)) return app + " JFXX (thumbnail image)";
      break;
    case 0xE1:
      if (starts_with_bytes(body, "Exif\0"sv)) {
        return app + " Exif (" + exif_description(body.size() > 6 ? body.substr(6) : std::string_view{}) + ")";
      }
      if (starts_with_bytes(body, "http://ns.adobe.com/xap/1.0/\0"sv)) return app + " XMP metadata";
      if (starts_with_bytes(body, "http://ns.adobe.com/xmp/extension/\0"sv)) return app + " XMP extension";
      break;
    case 0xE2:
      if (starts_with_bytes(body, "ICC_PROFILE\0"sv)) return app + " ICC profile";
      if (starts_with_bytes(body, "MPF\0"sv)) return app + " MPF (further images)";
      if (starts_with_bytes(body, "FPXR\0"sv)) return app + " FlashPix data";
      break;
    case 0xEC:
      if (starts_with_bytes(body, "Ducky"sv)) return app + " Ducky (editor data)";
      break;
    case 0xED:
      if (starts_with_bytes(body, "Photoshop 3.0\0"sv)) return app + " Photoshop IRB";
      break;
    case 0xEE:
      if (starts_with_bytes(body, "Adobe"sv)) return std::nullopt;
      break;
    default: break;
  }
  return app + " segment";
}

crypto::Result<JpegSegments> walk_jpeg(std::string_view b) {
  if (b.size() < 4 || static_cast<unsigned char>(b[0]) != 0xFF || static_cast<unsigned char>(b[1]) != 0xD8) {
    return make_error(Errc::bad_format, "not a JPEG (no SOI)");
  }
  JpegSegments seg;
  std::size_t at = 2;
  while (true) {
    // §B.1.1.2: any number of 0xFF fill bytes may precede a marker.
    if (at >= b.size() || static_cast<unsigned char>(b[at]) != 0xFF) {
      return make_error(Errc::bad_format, "JPEG: no marker where one is due");
    }
    while (at < b.size() && static_cast<unsigned char>(b[at]) == 0xFF) ++at;
    if (at >= b.size()) return make_error(Errc::bad_format, "JPEG: truncated marker");
    const unsigned marker = static_cast<unsigned char>(b[at++]);
    if (marker == 0xD9) {  // EOI
      seg.after_eoi = b.size() - at;
      return seg;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // TEM, RSTn: no length
    if (marker == 0x00 || marker == 0xD8) return make_error(Errc::bad_format, "JPEG: misplaced marker");
    if (b.size() - at < 2) return make_error(Errc::bad_format, "JPEG: truncated segment length");
    const std::uint32_t length = be16(b, at);
    if (length < 2 || length > b.size() - at) return make_error(Errc::bad_format, "JPEG: segment overruns the file");
    const std::string_view body = b.substr(at + 2, length - 2);
    if ((marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE) {
      if (auto what = describe_jpeg_segment(marker, body)) {
        seg.dropped.push_back(*what);
      } else if (marker == 0xEE && length != 14) {
        // The Adobe marker libjpeg writes is 12 bytes of data; a longer one
        // carries something else behind the familiar name.
        seg.unusual.push_back("APP14 Adobe segment of unusual length (" + std::to_string(length) + " bytes)");
      }
    }
    at += length;
    if (marker == 0xDA) {
      // §B.1.1.5: entropy-coded data runs to the next marker that is not a
      // stuffed zero (FF 00), a restart marker or fill.
      while (at + 1 < b.size()) {
        if (static_cast<unsigned char>(b[at]) == 0xFF) {
          const auto next = static_cast<unsigned char>(b[at + 1]);
          if (next != 0x00 && next != 0xFF && !(next >= 0xD0 && next <= 0xD7)) break;
        }
        ++at;
      }
      if (at + 1 >= b.size()) return make_error(Errc::bad_format, "JPEG: no EOI");
    }
  }
}

// djpeg's -maxscans default advice: a legitimate progressive JPEG has at
// most a few dozen scans; thousands of tiny scans over a large image are a
// CPU exhaustion attack (libjpeg-turbo's doc/libjpeg.txt, "Progressive JPEG
// support" and the CVE-2018-11813 discussion).
constexpr int kMaxScans = 1000;
constexpr int kQuality = 92;

struct JpegErrorManager {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool too_many_scans;
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg reports corrupt data as a warning (level -1) and carries on with
// grey blocks; a rebuild must not turn a broken image into a different,
// plausible one, so a warning fails it like an error. Trace messages
// (level >= 0) are ignored.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);
}

void jpeg_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxScans) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    err->too_many_scans = true;
    std::snprintf(err->message, sizeof err->message, "progressive JPEG with more than %d scans", kMaxScans);
    std::longjmp(err->jump, 1);
  }
}

// All libjpeg state lives here, outside the frame that calls setjmp, so a
// longjmp back into that frame leaves nothing indeterminate and skips no
// destructor (C++ [csetjmp.syn]).
struct JpegTranscode {
  const unsigned char* input = nullptr;
  unsigned long input_size = 0;
  Limits limits;
  jpeg_decompress_struct in{};
  jpeg_compress_struct out{};
  JpegErrorManager in_err{};
  JpegErrorManager out_err{};
  jpeg_progress_mgr progress{};
  std::vector<JSAMPLE> row;
  unsigned char* encoded = nullptr;  // malloc'd by jpeg_mem_dest
  unsigned long encoded_size = 0;
  bool too_large = false;
  bool out_created = false;

  ~JpegTranscode() {
    jpeg_destroy_decompress(&in);
    if (out_created) jpeg_destroy_compress(&out);
    std::free(encoded);
  }
};

// The budget libjpeg's memory manager may spend on full-image buffers
// (progressive coefficients, the optimising encoder's coefficients): what
// an image of max_pixels needs, 4 components of 2-byte coefficients, plus
// room for tables. Beyond it libjpeg stops (it has no backing store).
long jpeg_memory_budget(const Limits& limits) {
  const std::uint64_t budget = limits.max_pixels * 8 + (std::uint64_t{64} << 20);
  return static_cast<long>(std::min<std::uint64_t>(budget, std::uint64_t{1} << 40));
}

// Decodes one scanline at a time and encodes it at once: the whole image is
// never held as pixels. Returns false with the error manager's message set.
bool transcode_jpeg(JpegTranscode* t) {
  t->in.err = jpeg_std_error(&t->in_err.mgr);
  t->in_err.mgr.error_exit = jpeg_fail;
  t->in_err.mgr.emit_message = jpeg_message;
  t->out.err = jpeg_std_error(&t->out_err.mgr);
  t->out_err.mgr.error_exit = jpeg_fail;
  t->out_err.mgr.emit_message = jpeg_message;
  if (setjmp(t->in_err.jump)) return false;
  if (setjmp(t->out_err.jump)) return false;
  jpeg_create_decompress(&t->in);
  t->in.mem->max_memory_to_use = jpeg_memory_budget(t->limits);
  t->progress.progress_monitor = jpeg_progress;
  t->in.progress = &t->progress;
  jpeg_mem_src(&t->in, t->input, t->input_size);
  jpeg_read_header(&t->in, TRUE);
  if (std::uint64_t{t->in.image_width} * t->in.image_height > t->limits.max_pixels) {
    t->too_large = true;
    return false;
  }
  switch (t->in.jpeg_color_space) {
    case JCS_GRAYSCALE: t->in.out_color_space = JCS_GRAYSCALE; break;
    // libjpeg turns YCCK into CMYK; the values keep Adobe's inverted
    // convention, and the encoder writes the Adobe marker that announces it.
    case JCS_CMYK:
    case JCS_YCCK: t->in.out_color_space = JCS_CMYK; break;
    default: t->in.out_color_space = JCS_RGB; break;
  }
  jpeg_start_decompress(&t->in);

  jpeg_create_compress(&t->out);
  t->out_created = true;
  t->out.mem->max_memory_to_use = jpeg_memory_budget(t->limits);
  jpeg_mem_dest(&t->out, &t->encoded, &t->encoded_size);
  t->out.image_width = t->in.output_width;
  t->out.image_height = t->in.output_height;
  t->out.input_components = t->in.output_components;
  t->out.in_color_space = t->in.out_color_space;
  jpeg_set_defaults(&t->out);
  jpeg_set_quality(&t->out, kQuality, TRUE);
  t->out.optimize_coding = TRUE;
  if (t->in.saw_JFIF_marker) {  // the print size is not metadata worth losing
    t->out.density_unit = t->in.density_unit;
    t->out.X_density = t->in.X_density;
    t->out.Y_density = t->in.Y_density;
  }
  jpeg_start_compress(&t->out, TRUE);
  t->row.resize(static_cast<std::size_t>(t->in.output_width) * static_cast<std::size_t>(t->in.output_components));
  while (t->in.output_scanline < t->in.output_height) {
    JSAMPROW p = t->row.data();
    if (jpeg_read_scanlines(&t->in, &p, 1) != 1) {
      std::snprintf(t->in_err.message, sizeof t->in_err.message, "JPEG data ends early");
      return false;
    }
    jpeg_write_scanlines(&t->out, &p, 1);
  }
  jpeg_finish_compress(&t->out);
  jpeg_finish_decompress(&t->in);
  return true;
}

// ---- PNG ----

// ISO/IEC 15948 (PNG 3rd ed.) §5: signature, then chunks of length (31 bits),
// type, data and CRC. The CRC is libpng's business when it decodes; here
// only the layout matters.
struct PngChunks {
  std::vector<std::string> dropped;  // ancillary chunks the rebuild does not carry, in order
  std::vector<std::string> active;   // what find_active_png reports
  std::size_t after_iend = 0;
};

bool is_text_chunk(std::string_view type) { return type == "tEXt" || type == "zTXt" || type == "iTXt"; }

// The keyword of a text chunk (§11.3.3: 1-79 bytes, then a NUL).
std::string text_keyword(std::string_view data) {
  return printable(data.substr(0, std::min(data.find('\0'), std::size_t{79})));
}

std::string describe_png_chunk(std::string_view type, std::string_view data) {
  const std::string name(type);
  if (is_text_chunk(type)) return name + " chunk '" + text_keyword(data) + "'";
  if (type == "eXIf") return "eXIf chunk (" + exif_description(data) + ")";
  if (type == "iCCP") return "iCCP chunk '" + text_keyword(data) + "' (ICC profile)";
  if (type == "tIME") return "tIME chunk (modification time)";
  if (type == "pHYs") return "pHYs chunk (pixel size)";
  if (type == "cHRM") return "cHRM chunk (chromaticities)";
  if (type == "bKGD") return "bKGD chunk (background colour)";
  if (type == "sBIT") return "sBIT chunk (significant bits)";
  if (type == "hIST") return "hIST chunk (palette histogram)";
  if (type == "sPLT") return "sPLT chunk '" + text_keyword(data) + "' (suggested palette)";
  if (type == "acTL") {
    const std::string frames = data.size() >= 4 ? ", " + std::to_string(be32(data, 0)) + " frames" : "";
    return "APNG animation (acTL" + frames + ")";
  }
  if (type == "fcTL" || type == "fdAT") return "APNG frame (" + name + ")";
  return "chunk '" + printable(type) + "' (not a standard chunk)";
}

// Chunks whose content the rebuilt file keeps in meaning: the pixels and
// their colour (the simplified API applies gAMA, sRGB, PLTE and tRNS, and
// writes its own sRGB chunk).
bool rebuilt_chunk(std::string_view type) {
  for (std::string_view t : {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "sRGB"}) {
    if (type == t) return true;
  }
  return false;
}

// Chunks a clean PNG may hold: the rebuilt ones and the fixed-size
// rendering hints (§11.3). Not allowed: text (tEXt/zTXt/iTXt), eXIf, tIME
// (metadata); iCCP (an opaque profile: a parser's attack surface and room
// for arbitrary data, and the encoder never writes it); sPLT (a named,
// unbounded palette); APNG frames (a second image the rebuild would not
// show); any chunk not in the standard.
bool allowed_in_clean_png(std::string_view type) {
  if (rebuilt_chunk(type)) return true;
  for (std::string_view t : {"cHRM", "pHYs", "bKGD", "sBIT", "hIST"}) {
    if (type == t) return true;
  }
  return false;
}

crypto::Result<PngChunks> walk_png(std::string_view b) {
  static constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
  if (!starts_with_bytes(b, kSignature)) return make_error(Errc::bad_format, "not a PNG (no signature)");
  PngChunks chunks;
  bool apng_named = false;
  std::size_t at = kSignature.size();
  while (true) {
    if (b.size() - at < 12) return make_error(Errc::bad_format, "PNG: truncated chunk");
    const std::uint32_t length = be32(b, at);
    if (length > 0x7FFFFFFFu || length > b.size() - at - 12) {
      return make_error(Errc::bad_format, "PNG: chunk overruns the file");
    }
    const std::string_view type = b.substr(at + 4, 4);
    for (char c : type) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return make_error(Errc::bad_format, "PNG: bad chunk type");
    }
    const std::string_view data = b.substr(at + 8, length);
    at += 12 + std::size_t{length};
    if (type == "IEND") {
      chunks.after_iend = b.size() - at;
      return chunks;
    }
    const bool apng = type == "acTL" || type == "fcTL" || type == "fdAT";
    if (apng && apng_named) continue;  // one line for the whole animation
    apng_named = apng_named || apng;
    if (!rebuilt_chunk(type)) chunks.dropped.push_back(describe_png_chunk(type, data));
    if (!allowed_in_clean_png(type)) chunks.active.push_back(describe_png_chunk(type, data));
  }
}

struct PngImage {
  png_image image{};
  ~PngImage() { png_image_free(&image); }
};

std::string trailing(const char* after, std::size_t n) {
  return "data after " + std::string(after) + " (" + std::to_string(n) + " bytes)";
}

}  // namespace

crypto::Result<Rebuilt> rebuild_jpeg(std::string_view bytes, const Limits& limits) {
  auto segments = walk_jpeg(bytes);
  if (!segments) return segments.error();
  JpegTranscode t;
  t.input = reinterpret_cast<const unsigned char*>(bytes.data());
  t.input_size = static_cast<unsigned long>(bytes.size());
  t.limits = limits;
  if (!transcode_jpeg(&t)) {
    if (t.too_large) {
      return make_error(Errc::exhausted, "JPEG of " + std::to_string(t.in.image_width) + "x" +
                                             std::to_string(t.in.image_height) + " pixels is over the limit of " +
                                             std::to_string(limits.max_pixels));
    }
    if (t.in_err.too_many_scans) return make_error(Errc::exhausted, t.in_err.message);
    if (t.in_err.mgr.msg_code == JERR_NO_BACKING_STORE || t.out_err.mgr.msg_code == JERR_NO_BACKING_STORE) {
      return make_error(Errc::exhausted, "JPEG needs more memory than its size allows");
    }
    return make_error(Errc::bad_format, std::string("JPEG: ") + (t.in_err.message[0] ? t.in_err.message : t.out_err.message));
  }
  if (t.encoded_size > limits.max_output) return make_error(Errc::exhausted, "rebuilt JPEG is over the output limit");
  Rebuilt out;
  out.bytes.assign(reinterpret_cast<const char*>(t.encoded), t.encoded_size);
  out.removed = std::move(segments->dropped);
  for (std::string& u : segments->unusual) out.removed.push_back(std::move(u));
  if (segments->after_eoi > 0) out.removed.push_back(trailing("EOI", segments->after_eoi));
  return out;
}

crypto::Result<std::vector<std::string>> find_active_jpeg(std::string_view bytes) {
  auto segments = walk_jpeg(bytes);
  if (!segments) return segments.error();
  std::vector<std::string> found = std::move(segments->dropped);
  for (std::string& u : segments->unusual) found.push_back(std::move(u));
  if (segments->after_eoi > 0) found.push_back(trailing("EOI", segments->after_eoi));
  return found;
}

crypto::Result<Rebuilt> rebuild_png(std::string_view bytes, const Limits& limits) {
  auto chunks = walk_png(bytes);
  if (!chunks) return chunks.error();
  PngImage png;
  png.image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png.image, bytes.data(), bytes.size())) {
    return make_error(Errc::bad_format, std::string("PNG: ") + png.image.message);
  }
  const std::uint64_t pixels = std::uint64_t{png.image.width} * png.image.height;
  if (pixels > limits.max_pixels) {
    return make_error(Errc::exhausted, "PNG of " + std::to_string(png.image.width) + "x" +
                                           std::to_string(png.image.height) + " pixels is over the limit of " +
                                           std::to_string(limits.max_pixels));
  }
  // Colour or grey and alpha as the file has them; palettes are expanded.
  // 16-bit samples become 8-bit: the rebuild's output is 8-bit sRGB, and a
  // 16-bit file is taken as sRGB-encoded (what nearly every 16-bit PNG
  // is), so the conversion is a rounding, not a gamma change.
  png.image.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
  png.image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  std::vector<png_byte> pixel_bytes(PNG_IMAGE_SIZE(png.image));
  if (!png_image_finish_read(&png.image, nullptr, pixel_bytes.data(), 0, nullptr)) {
    return make_error(Errc::bad_format, std::string("PNG: ") + png.image.message);
  }
  // libpng's warnings here concern ancillary chunks (all dropped) and
  // surplus data after the last row; a missing row is an error above.
  // One pass into a buffer of the encoder's worst case (the pixels stored,
  // plus chunk overhead), rather than compressing twice to learn the size.
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(png.image);
  Rebuilt out;
  out.bytes.resize(size);
  if (!png_image_write_to_memory(&png.image, out.bytes.data(), &size, 0, pixel_bytes.data(), 0, nullptr)) {
    return make_error(Errc::internal, std::string("PNG encoder: ") + png.image.message);
  }
  if (size > limits.max_output) return make_error(Errc::exhausted, "rebuilt PNG is over the output limit");
  out.bytes.resize(size);
  out.removed = std::move(chunks->dropped);
  if (chunks->after_iend > 0) out.removed.push_back(trailing("IEND", chunks->after_iend));
  return out;
}

crypto::Result<std::vector<std::string>> find_active_png(std::string_view bytes) {
  auto chunks = walk_png(bytes);
  if (!chunks) return chunks.error();
  std::vector<std::string> found = std::move(chunks->active);
  if (chunks->after_iend > 0) found.push_back(trailing("IEND", chunks->after_iend));
  return found;
}

}  // namespace ferry::disarm

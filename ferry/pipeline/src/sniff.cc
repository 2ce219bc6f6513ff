#include "ferry/pipeline/sniff.h"

#include <magic.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <pugixml.hpp>

namespace ferry::pipeline {
namespace {

using policy::FileType;

std::uint32_t be32(std::string_view b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}
unsigned be16(std::string_view b, std::size_t at) {
  return static_cast<unsigned>(static_cast<unsigned char>(b[at])) << 8 | static_cast<unsigned char>(b[at + 1]);
}

bool pdf_space(char c) {  // ISO 32000-1 7.2.2, Table 1: white-space characters
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr std::string_view kPngSignature{"\x89PNG\r\n\x1a\n", 8};

}  // namespace

// --- PDF -------------------------------------------------------------------

namespace {

// 7.5.4: subsections "first count" of 20-byte entries "nnnnnnnnnn ggggg n";
// every in-use entry must point at "first+k g obj". Readers repair a table
// that does not, each in its own way, which is exactly the ambiguity a
// hostile file uses; so it is malformed here.
std::string check_xref_entries(std::string_view file, std::string_view table) {
  std::size_t p = 0;
  auto skip_space = [&] {
    while (p < table.size() && pdf_space(table[p])) ++p;
  };
  auto number = [&](std::uint64_t& v) {
    std::size_t digits = 0;
    v = 0;
    while (p < table.size() && std::isdigit(static_cast<unsigned char>(table[p])) && digits < 19) {
      v = v * 10 + static_cast<unsigned>(table[p++] - '0');
      ++digits;
    }
    return digits > 0;
  };
  for (skip_space(); p < table.size(); skip_space()) {
    std::uint64_t first = 0, count = 0;
    if (!number(first)) return "a damaged cross-reference table";
    skip_space();
    if (!number(count) || count > (table.size() - p) / 20 + 1) return "a damaged cross-reference subsection";
    while (p < table.size() && (table[p] == ' ' || table[p] == '\r')) ++p;
    if (p < table.size() && table[p] == '\n') ++p;
    for (std::uint64_t k = 0; k < count; ++k, p += 20) {
      if (table.size() - p < 18) return "a cross-reference table cut short";
      const std::string_view entry = table.substr(p, 18);
      if (entry[17] != 'n') continue;  // free entries ('f') point nowhere
      std::uint64_t offset = 0;
      for (std::size_t i = 0; i < 10; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(entry[i]))) return "a damaged cross-reference entry";
        offset = offset * 10 + static_cast<unsigned>(entry[i] - '0');
      }
      const std::string expected = std::to_string(first + k) + " ";
      std::size_t at = static_cast<std::size_t>(offset);
      if (offset >= file.size() || file.substr(at, expected.size()) != expected ||
          file.substr(at, 64).find("obj") == std::string_view::npos) {
        return "the cross-reference entry for object " + std::to_string(first + k) + " points to offset " +
               std::to_string(offset) + ", where that object is not";
      }
    }
  }
  return {};
}

}  // namespace

std::string check_pdf_structure(std::string_view b) {
  // 7.5.2: "%PDF-1.n" or "%PDF-2.0" as the first line.
  if (b.size() < 8 || !b.starts_with("%PDF-")) return "no %PDF- header at the start";
  const std::string_view version = b.substr(5, 3);
  const bool known = (version[0] == '1' && version[1] == '.' && version[2] >= '0' && version[2] <= '7') || version == "2.0";
  if (!known) return "unknown PDF version '" + std::string(version) + "'";

  // 7.5.5: the file ends with startxref, the offset, and %%EOF. Only white
  // space may follow the last %%EOF: anything else is a second file.
  std::size_t end = b.size();
  while (end > 0 && pdf_space(b[end - 1])) --end;
  if (end < 5 || b.substr(end - 5, 5) != "%%EOF") {
    const std::size_t last = b.rfind("%%EOF");
    if (last == std::string_view::npos) return "no %%EOF marker";
    return std::to_string(b.size() - (last + 5)) + " bytes after the last %%EOF (another file appended?)";
  }
  const std::size_t eof = end - 5;
  const std::size_t window = eof > 1024 ? eof - 1024 : 0;
  const std::size_t sx = b.rfind("startxref", eof);
  if (sx == std::string_view::npos || sx < window) return "no startxref before the final %%EOF";
  std::size_t p = sx + 9;
  while (p < eof && pdf_space(b[p])) ++p;
  std::uint64_t offset = 0;
  std::size_t digits = 0;
  while (p < eof && std::isdigit(static_cast<unsigned char>(b[p])) && digits < 19) {
    offset = offset * 10 + static_cast<unsigned>(b[p] - '0');
    ++p;
    ++digits;
  }
  if (digits == 0) return "startxref is not followed by an offset";
  if (offset >= sx) return "startxref offset " + std::to_string(offset) + " is beyond the cross-reference section";

  // 7.5.4 / 7.5.8: a cross-reference table ("xref" ... "trailer" << /Root >>)
  // or a cross-reference stream ("n g obj << /Type /XRef ... /Root >>").
  std::size_t q = static_cast<std::size_t>(offset);
  while (q < sx && pdf_space(b[q])) ++q;
  const std::string_view at = b.substr(q, sx - q);
  if (at.starts_with("xref")) {
    const std::size_t trailer = at.find("trailer");
    if (trailer == std::string_view::npos) return "the cross-reference table at " + std::to_string(offset) + " has no trailer";
    if (at.find("/Root", trailer) == std::string_view::npos) return "the trailer names no document catalog (/Root)";
    return check_xref_entries(b, at.substr(4, trailer - 4));
  }
  std::size_t k = 0;
  auto number = [&] {
    const std::size_t from = k;
    while (k < at.size() && std::isdigit(static_cast<unsigned char>(at[k]))) ++k;
    return k > from;
  };
  auto spaces = [&] {
    const std::size_t from = k;
    while (k < at.size() && pdf_space(at[k])) ++k;
    return k > from;
  };
  if (number() && spaces() && number() && spaces() && at.substr(k, 3) == "obj") {
    const std::string_view head = at.substr(k, 4096);
    const std::size_t type = head.find("/Type");
    const std::size_t xref = head.find("/XRef");
    if (type == std::string_view::npos || xref == std::string_view::npos) {
      return "startxref " + std::to_string(offset) + " points to an object that is not a cross-reference stream";
    }
    if (head.find("/Root") == std::string_view::npos) return "the cross-reference stream names no document catalog (/Root)";
    return {};
  }
  return "startxref " + std::to_string(offset) + " points to neither a cross-reference table nor a stream";
}

// --- PNG -------------------------------------------------------------------

std::string check_png_structure(std::string_view b) {
  if (!b.starts_with(kPngSignature)) return "no PNG signature";
  std::size_t p = kPngSignature.size();
  bool first = true, idat = false, plte = false;
  unsigned colour = 0;
  for (;;) {
    if (b.size() - p < 12) return "truncated before the IEND chunk";
    const std::uint32_t length = be32(b, p);
    const std::string_view type = b.substr(p + 4, 4);
    for (char c : type) {
      if (!std::isalpha(static_cast<unsigned char>(c))) return "a chunk type that is not four letters at offset " + std::to_string(p);
    }
    if (length > 0x7fffffffu || length > b.size() - p - 12) {
      return "chunk " + std::string(type) + " at offset " + std::to_string(p) + " runs past the end of the file";
    }
    const std::string_view data = b.substr(p + 8, length);
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(b.data() + p + 4), length + 4);
    if (crc != be32(b, p + 8 + length)) return "chunk " + std::string(type) + " at offset " + std::to_string(p) + " has a bad CRC";
    if (first) {
      if (type != "IHDR" || length != 13) return "the first chunk is not IHDR";
      const std::uint32_t width = be32(data, 0), height = be32(data, 4);
      const unsigned depth = static_cast<unsigned char>(data[8]);
      colour = static_cast<unsigned char>(data[9]);
      if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu) return "IHDR has an invalid size";
      // ISO/IEC 15948 11.2.2, Table 11.1: allowed bit depths per colour type.
      const bool ok = (colour == 0 && (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)) ||
                      ((colour == 2 || colour == 4 || colour == 6) && (depth == 8 || depth == 16)) ||
                      (colour == 3 && (depth == 1 || depth == 2 || depth == 4 || depth == 8));
      if (!ok) return "IHDR has an invalid colour type and bit depth";
      if (data[10] != 0 || data[11] != 0 || (data[12] != 0 && data[12] != 1)) return "IHDR has an unknown method";
      first = false;
    } else if (type == "IHDR") {
      return "a second IHDR";
    } else if (type == "PLTE") {
      plte = true;
    } else if (type == "IDAT") {
      idat = true;
    } else if (type == "IEND") {
      if (length != 0) return "IEND is not empty";
      if (!idat) return "no image data (IDAT)";
      if (colour == 3 && !plte) return "a palette image without PLTE";
      const std::size_t after = b.size() - (p + 12);
      if (after != 0) return std::to_string(after) + " bytes after IEND (another file appended?)";
      return {};
    } else if (std::isupper(static_cast<unsigned char>(type[0]))) {
      return "unknown critical chunk " + std::string(type);
    }
    p += 12 + length;
  }
}

// --- JPEG ------------------------------------------------------------------

std::string check_jpeg_structure(std::string_view b) {
  if (b.size() < 4 || static_cast<unsigned char>(b[0]) != 0xff || static_cast<unsigned char>(b[1]) != 0xd8) {
    return "no start-of-image marker";
  }
  std::size_t p = 2;
  bool frame = false, scan = false;
  for (;;) {
    if (p >= b.size()) return "truncated: no end-of-image marker";
    if (static_cast<unsigned char>(b[p]) != 0xff) return "a marker was expected at offset " + std::to_string(p);
    while (p < b.size() && static_cast<unsigned char>(b[p]) == 0xff) ++p;  // B.1.1.2: fill bytes
    if (p >= b.size()) return "truncated: no end-of-image marker";
    const unsigned marker = static_cast<unsigned char>(b[p++]);
    if (marker == 0xd9) {  // EOI
      if (!frame || !scan) return "no frame or no scan before the end of image";
      std::size_t after = b.size() - p;
      // Encoders sometimes pad with zero bytes; anything else is a second file.
      if (std::all_of(b.begin() + static_cast<std::ptrdiff_t>(p), b.end(), [](char c) { return c == '\0'; })) after = 0;
      if (after != 0) return std::to_string(after) + " bytes after the end-of-image marker (another file appended?)";
      return {};
    }
    if (marker == 0xd8) return "a second start-of-image marker";
    if (marker == 0x00) return "an invalid marker 0xFF00 at offset " + std::to_string(p - 2);
    if ((marker >= 0xd0 && marker <= 0xd7) || marker == 0x01) continue;  // no length (B.1.1.4)
    if (b.size() - p < 2) return "truncated marker segment";
    const unsigned length = be16(b, p);
    if (length < 2 || length > b.size() - p) return "a marker segment runs past the end of the file";
    // B.1.1.3, Table B.1: SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc) {
      if (length < 8) return "a short frame header";
      if (be16(b, p + 5) == 0) return "a frame of width 0";
      frame = true;
    }
    p += length;
    if (marker == 0xda) {  // SOS: entropy-coded data follows (B.2.4)
      if (!frame) return "a scan before any frame header";
      scan = true;
      for (;;) {
        const std::size_t ff = b.find('\xff', p);
        std::size_t q = ff == std::string_view::npos ? b.size() : ff + 1;
        while (q < b.size() && static_cast<unsigned char>(b[q]) == 0xff) ++q;  // fill bytes
        if (q >= b.size()) return "truncated in the entropy-coded data";
        const unsigned next = static_cast<unsigned char>(b[q]);
        if (next == 0x00 || (next >= 0xd0 && next <= 0xd7)) {  // stuffed 0xFF, or a restart marker
          p = q + 1;
          continue;
        }
        p = ff;  // a marker: the outer loop reads it
        break;
      }
    }
  }
}

// --- ZIP packages ------------------------------------------------------------

namespace {

// ECMA-376 Part 1 and [MS-OFFMACRO2]/[MS-OE376]: the main part's content type
// says what a package is.
struct MainPart {
  std::string_view content_type;
  std::string_view type;
};
constexpr std::array<MainPart, 12> kMainParts{{
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", "docx"},
    {"application/vnd.ms-word.document.macroEnabled.main+xml", "docm"},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml", "dotx"},
    {"application/vnd.ms-word.template.macroEnabledTemplate.main+xml", "dotm"},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", "xlsx"},
    {"application/vnd.ms-excel.sheet.macroEnabled.main+xml", "xlsm"},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml", "xltx"},
    {"application/vnd.ms-excel.template.macroEnabled.main+xml", "xltm"},
    {"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml", "pptx"},
    {"application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml", "pptm"},
    {"application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml", "ppsx"},
    {"application/vnd.openxmlformats-officedocument.presentationml.template.main+xml", "potx"},
}};

// The macro-enabled variant of a plain type, for a package that carries VBA
// under a plain content type (a .docm renamed and relabelled).
std::string_view macro_variant(std::string_view type) {
  if (type == "docx" || type == "dotx") return "docm";
  if (type == "xlsx" || type == "xltx") return "xlsm";
  if (type == "pptx" || type == "ppsx" || type == "potx") return "pptm";
  return type;
}

constexpr std::uint64_t kMaxManifest = std::uint64_t{1} << 20;

std::string local_name(const char* qualified) {
  std::string_view s(qualified);
  const std::size_t colon = s.find(':');
  return std::string(colon == std::string_view::npos ? s : s.substr(colon + 1));
}

pugi::xml_node child_local(const pugi::xml_node& parent, std::string_view name) {
  for (pugi::xml_node c : parent.children()) {
    if (c.type() == pugi::node_element && local_name(c.name()) == name) return c;
  }
  return {};
}

bool has_member(const ZipDirectory& d, std::string_view name) {
  return std::any_of(d.members.begin(), d.members.end(), [&](const ZipMember& m) { return m.name == name; });
}

// A package's XML member (at most kMaxManifest bytes) parsed into doc, or
// what is wrong with it.
std::optional<std::string> load_member_xml(std::string_view bytes, const char* name, pugi::xml_document& doc) {
  crypto::Result<std::string> text = read_member(bytes, name, kMaxManifest);
  if (!text.ok()) return text.error().message;
  if (!doc.load_buffer(text->data(), text->size(), pugi::parse_default)) {
    return std::string(name) + " is not well-formed XML";
  }
  return std::nullopt;
}

}  // namespace

PackageType classify_package(std::string_view bytes, const ZipDirectory& d) {
  if (has_member(d, "[Content_Types].xml")) {
    pugi::xml_document doc;
    if (std::optional<std::string> bad = load_member_xml(bytes, "[Content_Types].xml", doc)) {
      return {"docx", "OOXML: " + *bad};
    }
    const pugi::xml_node types = doc.document_element();
    if (local_name(types.name()) != "Types") return {"docx", "OOXML: [Content_Types].xml has no Types element"};
    bool macro = false;
    std::string found;
    for (pugi::xml_node o : types.children()) {
      if (o.type() != pugi::node_element) continue;
      const std::string content_type = o.attribute("ContentType").value();
      if (content_type.find("vbaProject") != std::string::npos || content_type.find("macroEnabled") != std::string::npos) {
        macro = true;
      }
      if (local_name(o.name()) != "Override") continue;
      for (const MainPart& m : kMainParts) {
        if (content_type != m.content_type) continue;
        std::string part = o.attribute("PartName").value();
        if (part.starts_with('/')) part.erase(0, 1);
        if (!found.empty()) return {std::string(m.type), "OOXML: more than one main document part"};
        if (!has_member(d, part)) return {std::string(m.type), "OOXML: the main part " + part + " is missing"};
        found = m.type;
      }
    }
    if (found.empty()) return {"docx", "OOXML: [Content_Types].xml names no main document part ferry knows"};
    for (const ZipMember& m : d.members) {
      if (lower(m.name).ends_with("vbaproject.bin")) macro = true;
    }
    return {std::string(macro ? macro_variant(found) : found), {}};
  }
  if (has_member(d, "OFD.xml")) {
    // GB/T 33190-2016 7.4, Table 2: the entry file's root is ofd:OFD, each
    // DocBody's DocRoot names the document's main file.
    pugi::xml_document doc;
    if (std::optional<std::string> bad = load_member_xml(bytes, "OFD.xml", doc)) return {"ofd", "OFD: " + *bad};
    const pugi::xml_node root = doc.document_element();
    if (local_name(root.name()) != "OFD") return {"ofd", "OFD: OFD.xml's root element is not ofd:OFD"};
    const pugi::xml_node body = child_local(root, "DocBody");
    const pugi::xml_node doc_root = body ? child_local(body, "DocRoot") : pugi::xml_node{};
    if (!doc_root) return {"ofd", "OFD: OFD.xml has no DocBody/DocRoot"};
    std::string path = doc_root.text().get();
    if (path.starts_with('/')) path.erase(0, 1);
    if (!has_member(d, path)) return {"ofd", "OFD: the document " + path + " named by DocRoot is missing"};
    return {"ofd", {}};
  }
  return {"zip", {}};
}

// --- all together ------------------------------------------------------------

Structure examine_structure(std::string_view b, const TextLimits& limits, std::optional<FileType> claimed) {
  Structure s;
  if (b.starts_with("%PDF-")) {
    s.type = "pdf";
    s.problem = check_pdf_structure(b);
    return s;
  }
  if (b.starts_with(kPngSignature)) {
    s.type = "png";
    s.problem = check_png_structure(b);
    return s;
  }
  if (b.size() >= 3 && b.starts_with("\xff\xd8\xff")) {
    s.type = "jpeg";
    s.problem = check_jpeg_structure(b);
    return s;
  }
  if (b.starts_with("PK\x03\x04") || b.starts_with("PK\x05\x06")) {
    crypto::Result<ZipDirectory> d = read_zip_directory(b);
    if (!d.ok()) {
      s.type = "zip";
      s.problem = d.error().message;
      return s;
    }
    PackageType p = classify_package(b, *d);
    s.type = p.type;
    s.problem = p.problem;
    return s;
  }
  s.text_kinds.push_back(FileType::txt);
  if (is_clean_utf8(b) && b.size() <= limits.max_text) {
    // The common case, without a copy of what may be 100 MiB.
    s.type = "txt";
    s.encoding = "utf-8";
    s.text_is_bytes = true;
  } else {
    crypto::Result<DecodedText> text = decode_text(b, limits);
    if (!text.ok()) {
      s.text_kinds.clear();
      return s;  // no format recognised
    }
    s.type = "txt";
    s.encoding = text->encoding;
    s.text = std::move(text->utf8);
    if (!text->alternative.empty()) s.text += "\n" + text->alternative;  // the rules read both readings
  }
  const std::string_view decoded = s.text_is_bytes ? b : std::string_view(s.text);
  // The structured text types are parsed when the name claims them, or
  // (JSON, XML) when the text starts like one: a plain text of 64 MiB is not
  // parsed three more times for nothing. CSV is only ever claimed.
  const std::size_t first = decoded.find_first_not_of(" \t\r\n");
  const char lead = first == std::string_view::npos ? '\0' : decoded[first];
  for (FileType kind : {FileType::csv, FileType::json, FileType::xml}) {
    const bool looks = (kind == FileType::json && (lead == '{' || lead == '[')) || (kind == FileType::xml && lead == '<');
    if (claimed != kind && !looks) continue;
    crypto::Result<std::string> parsed = extract_text(kind, b, limits);
    if (parsed.ok()) {
      s.text_kinds.push_back(kind);
      s.parsed_texts.emplace_back(kind, std::move(*parsed));
    } else {
      s.text_problems.emplace_back(kind, parsed.error().message);
    }
  }
  return s;
}

std::string_view extension_of(std::string_view name) {
  const std::size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const std::size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return base.substr(dot + 1);
}

std::optional<FileType> type_of_extension(std::string_view name) {
  const std::string ext = lower(extension_of(name));
  static constexpr std::pair<std::string_view, FileType> kExtensions[] = {
      {"pdf", FileType::pdf},   {"ofd", FileType::ofd},   {"docx", FileType::docx}, {"xlsx", FileType::xlsx},
      {"pptx", FileType::pptx}, {"txt", FileType::txt},   {"text", FileType::txt},  {"csv", FileType::csv},
      {"json", FileType::json}, {"xml", FileType::xml},   {"png", FileType::png},   {"jpg", FileType::jpeg},
      {"jpeg", FileType::jpeg}, {"jpe", FileType::jpeg},  {"zip", FileType::zip},
  };
  for (const auto& [e, t] : kExtensions) {
    if (ext == e) return t;
  }
  return std::nullopt;
}

// --- the detector ------------------------------------------------------------

struct TypeDetector::Magic {
  magic_t full = nullptr;  // every test of the database
  // For bytes ferry's own check already found to be text: only libmagic's
  // built-in tests (encoding, JSON, CSV), without the database's soft magic,
  // whose hundreds of regular expressions for scripts and source code cost
  // milliseconds per file and could only turn one text/* answer into
  // another. The charset is what the agreement rule reads for text.
  magic_t text = nullptr;
  ~Magic() {
    if (full) magic_close(full);
    if (text) magic_close(text);
  }
};

TypeDetector::TypeDetector() : magic_(std::make_unique<Magic>()) {
  // No decompression (MAGIC_NO_CHECK_COMPRESS): libmagic would otherwise
  // inflate hostile data itself; archives are ferry's to open, with limits.
  constexpr int kFlags = MAGIC_MIME_TYPE | MAGIC_MIME_ENCODING | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR;
  magic_->full = magic_open(kFlags);
  magic_->text = magic_open(kFlags | MAGIC_NO_CHECK_SOFT);
  if (magic_->full == nullptr || magic_->text == nullptr) {
    problem_ = "libmagic could not start";
    return;
  }
  for (magic_t cookie : {magic_->full, magic_->text}) {
    if (magic_load(cookie, nullptr) != 0) {
      const char* e = magic_error(cookie);
      problem_ = std::string("libmagic could not load its database: ") + (e ? e : "unknown error");
      return;
    }
  }
  // The text opinion is libmagic's charset, judged on the first MiB (its
  // default is 7 MiB); ferry's own check reads every byte anyway.
  const std::size_t text_bytes = std::size_t{1} << 20;
  magic_setparam(magic_->text, MAGIC_PARAM_BYTES_MAX, &text_bytes);
}

TypeDetector::~TypeDetector() = default;

std::string TypeDetector::magic(std::string_view bytes, bool text) const {
  if (!problem_.empty()) return {};
  const char* m = magic_buffer(text ? magic_->text : magic_->full, bytes.data(), bytes.size());
  return m ? m : "";
}

namespace {

// libmagic's MIME types that agree with each structural type. A generic
// ZIP answer agrees with a ZIP-based format: file(1) recognises OOXML only
// when its first entries are in the order Office writes, and OFD not at all.
bool magic_agrees(std::string_view type, std::string_view mime) {
  static constexpr std::string_view kZip = "application/zip";
  if (type == "pdf") return mime == "application/pdf";
  if (type == "png") return mime == "image/png";
  if (type == "jpeg") return mime == "image/jpeg";
  if (type == "zip" || type == "ofd") return mime == kZip;
  if (mime == kZip) return true;  // OOXML packages
  if (type == "docx" || type == "docm" || type == "dotx" || type == "dotm") {
    return mime.starts_with("application/vnd.openxmlformats-officedocument.wordprocessingml.") ||
           mime.starts_with("application/vnd.ms-word.");
  }
  if (type == "xlsx" || type == "xlsm" || type == "xltx" || type == "xltm") {
    return mime.starts_with("application/vnd.openxmlformats-officedocument.spreadsheetml.") ||
           mime.starts_with("application/vnd.ms-excel.");
  }
  if (type == "pptx" || type == "pptm" || type == "ppsx" || type == "potx") {
    return mime.starts_with("application/vnd.openxmlformats-officedocument.presentationml.") ||
           mime.starts_with("application/vnd.ms-powerpoint.");
  }
  return false;
}

std::string join_types(const std::vector<FileType>& types) {
  std::string out;
  for (FileType t : types) {
    if (!out.empty()) out += ", ";
    out += policy::to_string(t);
  }
  return out;
}

std::optional<FileType> file_type_named(std::string_view name) {
  for (const auto& n : policy::kFileTypeNames) {
    if (n.name == name) return n.value;
  }
  return std::nullopt;
}

std::string_view describe_variant(std::string_view type) {
  if (type == "docm" || type == "xlsm" || type == "pptm" || type == "dotm" || type == "xltm") {
    return " (an Office document with macros)";
  }
  if (type == "dotx" || type == "xltx" || type == "potx") return " (an Office template)";
  if (type == "ppsx") return " (a PowerPoint show)";
  return "";
}

}  // namespace

TypeDecision TypeDetector::decide(std::string_view name, std::string_view bytes, const std::vector<FileType>& allowed,
                                  const TextLimits& limits) const {
  TypeDecision d;
  if (!problem_.empty()) {
    d.reason = Reason{"type.unavailable", problem_};
    return d;
  }
  const std::optional<FileType> claimed = type_of_extension(name);
  Structure s = examine_structure(bytes, limits, claimed);
  // Text that ferry read without guessing (clean UTF-8, or any text behind
  // a byte-order mark) gets libmagic's quick opinion; text read by a guess
  // (GB18030, BOM-less UTF-16: almost any byte pairs are valid UTF-16) gets
  // every test, so that an executable or archive that happens to decode
  // still shows for what it is.
  const bool bom = bytes.starts_with("\xEF\xBB\xBF") || bytes.starts_with("\xFF\xFE") || bytes.starts_with("\xFE\xFF");
  d.magic = magic(bytes, s.type == "txt" && (s.text_is_bytes || bom));
  const std::size_t semi = d.magic.find(';');
  const std::string mime = d.magic.substr(0, semi);
  const std::size_t cs = d.magic.find("charset=");
  const std::string charset = cs == std::string::npos ? "" : d.magic.substr(cs + 8);
  if (s.type.empty()) {
    d.detected = mime.empty() ? "unknown" : mime;
    d.reason = Reason{"type.unknown", "content is " + d.magic + " (libmagic); not a type ferry can verify"};
    return d;
  }
  if (s.type == "txt") {
    // Which text type: the one the name claims if the text is valid as it,
    // else the most specific it is valid as (CSV only when claimed: any
    // text parses as one-column CSV).
    auto valid_as = [&](FileType t) { return std::find(s.text_kinds.begin(), s.text_kinds.end(), t) != s.text_kinds.end(); };
    const bool claims_text = claimed && (*claimed == FileType::txt || *claimed == FileType::csv ||
                                         *claimed == FileType::json || *claimed == FileType::xml);
    FileType t = FileType::txt;
    if (claims_text && valid_as(*claimed)) {
      t = *claimed;
    } else if (claims_text) {
      d.detected = policy::to_string(*claimed);
      std::string why;
      for (const auto& [k, w] : s.text_problems) {
        if (k == *claimed) why = w;
      }
      d.reason = Reason{"type.malformed", std::string(policy::to_string(*claimed)) + ": " + why};
      return d;
    } else if (valid_as(FileType::json)) {
      t = FileType::json;
    } else if (valid_as(FileType::xml)) {
      t = FileType::xml;
    }
    d.detected = policy::to_string(t);
    d.encoding = s.encoding;
    // libmagic's second opinion on text is its charset: anything but
    // "binary". It does not recognise UTF-16 without a byte-order mark, so
    // there it is asked about the converted text instead, but only when it
    // had no opinion (octet-stream): bytes it names as something else (an
    // executable that happens to decode as UTF-16) stay a mismatch.
    // Nor does it judge files of fewer than two bytes ("very short file").
    bool agrees = (!charset.empty() && charset != "binary") || bytes.size() < 2;
    if (!agrees && mime == "application/octet-stream" &&
        (s.encoding == "utf-16le" || s.encoding == "utf-16be" || s.encoding == "gb18030")) {
      const std::string again = magic(std::string_view(s.text).substr(0, 1 << 16), true);
      agrees = again.find("charset=binary") == std::string::npos && !again.empty();
    }
    if (!agrees) {
      d.reason = Reason{"type.mismatch", "the content decodes as " + s.encoding + " text, but libmagic says " + d.magic};
      return d;
    }
    d.type = t;
    d.has_text = true;
    if (t == FileType::txt) {
      d.text = std::move(s.text);
      d.text_is_bytes = s.text_is_bytes;
    } else {
      for (auto& [k, text] : s.parsed_texts) {
        if (k == t) d.text = std::move(text);
      }
    }
  } else {
    d.detected = s.type;
    if (!s.problem.empty()) {
      d.reason = Reason{"type.malformed", s.problem};
      return d;
    }
    if (!magic_agrees(s.type, mime)) {
      d.reason = Reason{"type.mismatch", "the structure is " + s.type + ", but libmagic says " + d.magic};
      return d;
    }
    d.type = file_type_named(s.type);
  }
  if (!d.type || std::find(allowed.begin(), allowed.end(), *d.type) == allowed.end()) {
    d.reason = Reason{"type.not_allowed", d.detected + std::string(describe_variant(d.detected)) +
                                              " is not in allow_types [" + join_types(allowed) + "]"};
    d.type.reset();
    return d;
  }
  if (claimed != d.type) {
    const std::string_view ext = extension_of(name);
    d.reason = Reason{"type.extension",
                      (ext.empty() ? std::string("the name has no extension")
                                   : "the extension ." + std::string(ext) +
                                         (claimed ? " claims " + std::string(policy::to_string(*claimed))
                                                  : std::string(" is not one ferry knows"))) +
                          ", the content is " + d.detected};
    d.type.reset();
    return d;
  }
  return d;
}

}  // namespace ferry::pipeline

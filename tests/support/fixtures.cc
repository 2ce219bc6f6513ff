#include "tests/support/fixtures.h"

#include <archive.h>
#include <archive_entry.h>
#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "tests/support/image_codecs.h"

namespace ferry::test {

using namespace image_codecs;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("fixture generator: " + what); }


// ---- archives (libarchive writing into a growable buffer) ----

using ArchivePtr = std::unique_ptr<struct archive, decltype(&archive_write_free)>;

la_ssize_t append_to_string(struct archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

void check(struct archive* a, int rc, const char* what) {
  if (rc != ARCHIVE_OK) fail(std::string(what) + ": " + (archive_error_string(a) ? archive_error_string(a) : "?"));
}

void write_entries(struct archive* a, const std::vector<ZipEntry>& entries, bool is_zip) {
  for (const ZipEntry& e : entries) {
    if (is_zip) {
      check(a, e.store ? archive_write_zip_set_compression_store(a) : archive_write_zip_set_compression_deflate(a),
            "zip compression");
    }
    std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(entry.get(), e.name.c_str());
    archive_entry_set_mtime(entry.get(), 1764201600, 0);  // 2025-11-27: output does not depend on the clock
    std::size_t size = 0;
    switch (e.kind) {
      case ZipEntry::file:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_perm(entry.get(), 0644);
        size = e.data.size();
        break;
      case ZipEntry::dir:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        archive_entry_set_perm(entry.get(), 0755);
        break;
      case ZipEntry::symlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_set_perm(entry.get(), 0777);
        archive_entry_set_symlink(entry.get(), e.link_target.c_str());
        break;
      case ZipEntry::hardlink:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_perm(entry.get(), 0644);
        archive_entry_set_hardlink(entry.get(), e.link_target.c_str());
        break;
    }
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
    check(a, archive_write_header(a, entry.get()), "write header");
    if (size > 0 && archive_write_data(a, e.data.data(), size) != static_cast<la_ssize_t>(size)) {
      fail(std::string("write data: ") + (archive_error_string(a) ? archive_error_string(a) : "?"));
    }
  }
}

std::string write_archive(const std::vector<ZipEntry>& entries, bool is_zip, const ZipOptions& options) {
  ArchivePtr a(archive_write_new(), archive_write_free);
  if (!a) fail("archive_write_new");
  check(a.get(), is_zip ? archive_write_set_format_zip(a.get()) : archive_write_set_format_pax_restricted(a.get()),
        "set format");
  check(a.get(), archive_write_add_filter_none(a.get()), "filter");
  // No blocking: the archive ends where its format says, with no padding.
  check(a.get(), archive_write_set_bytes_per_block(a.get(), 0), "block size");
  if (!options.password.empty()) {
    check(a.get(), archive_write_set_options(a.get(), "zip:encryption=zipcrypt"), "encryption");
    check(a.get(), archive_write_set_passphrase(a.get(), options.password.c_str()), "passphrase");
  }
  std::string out;
  check(a.get(), archive_write_open(a.get(), &out, nullptr, append_to_string, nullptr), "open");
  write_entries(a.get(), entries, is_zip);
  check(a.get(), archive_write_close(a.get()), "close");
  return out;
}

// ---- OOXML ----

constexpr const char* kXmlDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
constexpr const char* kRelNs = "http://schemas.openxmlformats.org/package/2006/relationships";
constexpr const char* kOfficeDocRel =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument";

std::string content_types(const std::vector<std::pair<std::string, std::string>>& overrides,
                          const std::string& extra_defaults = {}) {
  std::string s = std::string(kXmlDecl) +
                  "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
                  "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
                  "<Default Extension=\"xml\" ContentType=\"application/xml\"/>" +
                  extra_defaults;
  for (const auto& [part, type] : overrides) s += "<Override PartName=\"" + part + "\" ContentType=\"" + type + "\"/>";
  s += "<Override PartName=\"/docProps/core.xml\" "
       "ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>"
       "<Override PartName=\"/docProps/app.xml\" "
       "ContentType=\"application/vnd.openxmlformats-officedocument.extended-properties+xml\"/></Types>";
  return s;
}

// (Id, Type, Target) triples.
std::string relationships(const std::vector<std::array<std::string, 3>>& rels) {
  std::string s = std::string(kXmlDecl) + "<Relationships xmlns=\"" + kRelNs + "\">";
  for (const auto& r : rels) s += "<Relationship Id=\"" + r[0] + "\" Type=\"" + r[1] + "\" Target=\"" + r[2] + "\"/>";
  return s + "</Relationships>";
}

std::string package_rels(const std::string& main_part) {
  return relationships({{"rId1", kOfficeDocRel, main_part},
                        {"rId2", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
                         "docProps/core.xml"},
                        {"rId3", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties",
                         "docProps/app.xml"}});
}

std::vector<ZipEntry> doc_props(const std::string& application) {
  return {{"docProps/core.xml",
           std::string(kXmlDecl) +
               "<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
               "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator>ferry tests</dc:creator></cp:coreProperties>"},
          {"docProps/app.xml",
           std::string(kXmlDecl) +
               "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\">"
               "<Application>" + application + "</Application></Properties>"}};
}

std::vector<ZipEntry> ooxml(std::vector<ZipEntry> head, std::vector<ZipEntry> parts, const std::string& application) {
  for (ZipEntry& p : parts) head.push_back(std::move(p));
  for (ZipEntry& p : doc_props(application)) head.push_back(std::move(p));
  return head;
}

std::string column_name(std::size_t index) {
  std::string name;
  for (std::size_t n = index + 1; n > 0; n = (n - 1) / 26) name.insert(name.begin(), static_cast<char>('A' + (n - 1) % 26));
  return name;
}

// ---- images ----



std::vector<unsigned char> gradient_row(unsigned width, unsigned y) {
  std::vector<unsigned char> row(static_cast<std::size_t>(width) * 3);
  for (unsigned x = 0; x < width; ++x) {
    row[x * 3] = static_cast<unsigned char>(x * 255 / (width > 1 ? width - 1 : 1));
    row[x * 3 + 1] = static_cast<unsigned char>(y & 0xFF);
    row[x * 3 + 2] = static_cast<unsigned char>((x + y) & 0xFF);
  }
  return row;
}

// ---- PDF ----

// UTF-8 to code points; a malformed sequence becomes '?' (the generators'
// input is the tests' own literals).
std::vector<char32_t> code_points(std::string_view utf8) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    const std::size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    if (i + len > utf8.size()) {
      out.push_back(U'?');
      break;
    }
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
    for (std::size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3Fu);
    out.push_back(c);
    i += len;
  }
  return out;
}

// Code points up to U+00FF as themselves (WinAnsi agrees with Latin-1 there
// except 0x80-0x9F, which we never produce).
std::string latin1(std::string_view utf8) {
  std::string out;
  for (char32_t c : code_points(utf8)) out += (c < 0x80 || (c >= 0xA0 && c <= 0xFF)) ? static_cast<char>(c) : '?';
  return out;
}

// Identity-H: two bytes per character, the BMP code point itself.
std::string utf16_hex(std::string_view utf8) {
  std::string out = "<";
  for (char32_t c : code_points(utf8)) {
    char unit[5];
    std::snprintf(unit, sizeof unit, "%04X", static_cast<unsigned>(c > 0xFFFF || (c >= 0xD800 && c <= 0xDFFF) ? U'?' : c));
    out += unit;
  }
  return out + ">";
}

// ISO 32000-1 §9.10.3: a ToUnicode CMap mapping each two-byte code of the
// BMP (surrogates aside) to the same UTF-16 value, in bfrange blocks of at
// most 100 entries, each range within one high byte.
std::string identity_to_unicode() {
  std::vector<unsigned> highs;
  for (unsigned hi = 0; hi < 0x100; ++hi) {
    if (hi < 0xD8 || hi > 0xDF) highs.push_back(hi);
  }
  std::string s =
      "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
      "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
      "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
      "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n";
  for (std::size_t i = 0; i < highs.size(); i += 100) {
    const std::size_t n = std::min<std::size_t>(100, highs.size() - i);
    s += std::to_string(n) + " beginbfrange\n";
    for (std::size_t k = i; k < i + n; ++k) {
      char line[32];
      std::snprintf(line, sizeof line, "<%02X00> <%02XFF> <%02X00>\n", highs[k], highs[k], highs[k]);
      s += line;
    }
    s += "endbfrange\n";
  }
  return s + "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";
}

std::string pdf_string(std::string_view s) {
  std::string out = "(";
  for (char c : s) {
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  return out + ")";
}

std::string page_content(std::string_view text, bool cjk) {
  std::string s = "BT\n/F1 12 Tf\n14 TL\n72 720 Td\n";
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    s += cjk ? utf16_hex(line) : pdf_string(latin1(line));
    s += " Tj T*\n";
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return s + "ET\n";
}

std::string stream(const std::string& data) {
  return "<< /Length " + std::to_string(data.size()) + " >>\nstream\n" + data + "endstream";
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}


std::string make_zip(const std::vector<ZipEntry>& entries, const ZipOptions& options) {
  return write_archive(entries, true, options);
}

std::string make_tar(const std::vector<ZipEntry>& entries) { return write_archive(entries, false, {}); }

std::string make_docx(const std::vector<std::string>& paragraphs, bool macro) {
  const std::string main_type = macro ? "application/vnd.ms-word.document.macroEnabled.main+xml"
                                      : "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";
  std::string body;
  for (const std::string& p : paragraphs) body += "<w:p><w:r><w:t xml:space=\"preserve\">" + xml_escape(p) + "</w:t></w:r></w:p>";
  const std::string document =
      std::string(kXmlDecl) +
      "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>" + body +
      "<w:sectPr/></w:body></w:document>";
  std::vector<std::array<std::string, 3>> doc_rels;
  std::vector<ZipEntry> parts = {{"word/document.xml", document}};
  if (macro) {
    doc_rels.push_back({"rId1", "http://schemas.microsoft.com/office/2006/relationships/vbaProject", "vbaProject.bin"});
    // A compound-file signature and an empty header: what a scanner keys on.
    std::string vba("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
    vba.resize(512, '\0');
    parts.push_back({"word/vbaProject.bin", vba});
  }
  parts.push_back({"word/_rels/document.xml.rels", relationships(doc_rels)});
  return make_zip(ooxml({{"[Content_Types].xml",
                          content_types({{"/word/document.xml", main_type}},
                                        macro ? "<Default Extension=\"bin\" "
                                                "ContentType=\"application/vnd.ms-office.vbaProject\"/>"
                                              : "")},
                         {"_rels/.rels", package_rels("word/document.xml")}},
                        std::move(parts), "Microsoft Office Word"));
}

std::string make_xlsx(const std::vector<std::vector<std::string>>& rows) {
  constexpr const char* kMain = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
  std::string shared;
  std::string sheet_rows;
  std::size_t count = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    sheet_rows += "<row r=\"" + std::to_string(r + 1) + "\">";
    std::size_t c = 0;
    for (; c < rows[r].size(); ++c) {
      shared += "<si><t xml:space=\"preserve\">" + xml_escape(rows[r][c]) + "</t></si>";
      sheet_rows += "<c r=\"" + column_name(c) + std::to_string(r + 1) + "\" t=\"s\"><v>" + std::to_string(count++) + "</v></c>";
    }
    if (r + 1 == rows.size()) sheet_rows += "<c r=\"" + column_name(c) + std::to_string(r + 1) + "\"><v>13800138000</v></c>";
    sheet_rows += "</row>";
  }
  const std::string ns = std::string("xmlns=\"") + kMain + "\"";
  return make_zip(ooxml(
      {{"[Content_Types].xml",
        content_types({{"/xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"},
                       {"/xl/worksheets/sheet1.xml",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"},
                       {"/xl/sharedStrings.xml",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"}})},
       {"_rels/.rels", package_rels("xl/workbook.xml")}},
      {{"xl/workbook.xml",
        std::string(kXmlDecl) + "<workbook " + ns +
            " xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>"
            "<sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"},
       {"xl/_rels/workbook.xml.rels",
        relationships({{"rId1", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet",
                        "worksheets/sheet1.xml"},
                       {"rId2", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings",
                        "sharedStrings.xml"}})},
       {"xl/worksheets/sheet1.xml",
        std::string(kXmlDecl) + "<worksheet " + ns + "><sheetData>" + sheet_rows + "</sheetData></worksheet>"},
       {"xl/sharedStrings.xml", std::string(kXmlDecl) + "<sst " + ns + " count=\"" + std::to_string(count) +
                                    "\" uniqueCount=\"" + std::to_string(count) + "\">" + shared + "</sst>"}},
      "Microsoft Excel"));
}

std::string make_pptx(const std::vector<std::string>& slide_texts) {
  constexpr const char* kNs =
      "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" "
      "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" "
      "xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\"";
  std::vector<std::pair<std::string, std::string>> overrides = {
      {"/ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"}};
  std::vector<std::array<std::string, 3>> rels;
  std::string ids;
  std::vector<ZipEntry> slides;
  for (std::size_t i = 0; i < slide_texts.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    overrides.push_back({"/ppt/slides/slide" + n + ".xml", "application/vnd.openxmlformats-officedocument.presentationml.slide+xml"});
    rels.push_back({"rId" + n, "http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide",
                    "slides/slide" + n + ".xml"});
    ids += "<p:sldId id=\"" + std::to_string(256 + i) + "\" r:id=\"rId" + n + "\"/>";
    slides.push_back({"ppt/slides/slide" + n + ".xml",
                      std::string(kXmlDecl) + "<p:sld " + kNs +
                          "><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id=\"1\" name=\"\"/><p:cNvGrpSpPr/><p:nvPr/>"
                          "</p:nvGrpSpPr><p:grpSpPr/><p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"Text\"/><p:cNvSpPr "
                          "txBox=\"1\"/><p:nvPr/></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:p><a:r><a:t>" +
                          xml_escape(slide_texts[i]) +
                          "</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"});
  }
  std::vector<ZipEntry> parts = {
      {"ppt/presentation.xml", std::string(kXmlDecl) + "<p:presentation " + kNs + "><p:sldIdLst>" + ids +
                                   "</p:sldIdLst><p:sldSz cx=\"9144000\" cy=\"6858000\"/><p:notesSz cx=\"6858000\" "
                                   "cy=\"9144000\"/></p:presentation>"},
      {"ppt/_rels/presentation.xml.rels", relationships(rels)}};
  for (ZipEntry& s : slides) parts.push_back(std::move(s));
  return make_zip(ooxml({{"[Content_Types].xml", content_types(overrides)},
                         {"_rels/.rels", package_rels("ppt/presentation.xml")}},
                        std::move(parts), "Microsoft Office PowerPoint"));
}

std::string make_ofd(const std::vector<std::string>& page_texts) {
  constexpr const char* kNs = "xmlns:ofd=\"http://www.ofdspec.org/2016\"";
  const std::string decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string pages;
  std::vector<ZipEntry> page_parts;
  // GB/T 33190-2016 §7.4: object IDs are unique in the document; 1 is the font.
  unsigned next_id = 2;
  for (std::size_t i = 0; i < page_texts.size(); ++i) {
    const std::string loc = "Pages/Page_" + std::to_string(i) + "/Content.xml";
    pages += "<ofd:Page ID=\"" + std::to_string(next_id++) + "\" BaseLoc=\"" + loc + "\"/>";
    const std::string layer = std::to_string(next_id++);
    const std::string object = std::to_string(next_id++);
    page_parts.push_back(
        {"Doc_0/" + loc, decl + "<ofd:Page " + kNs + "><ofd:Content><ofd:Layer ID=\"" + layer +
                             "\"><ofd:TextObject ID=\"" + object +
                             "\" Boundary=\"20 20 170 10\" Font=\"1\" Size=\"5\"><ofd:TextCode X=\"0\" Y=\"5\">" +
                             xml_escape(page_texts[i]) + "</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>"});
  }
  std::vector<ZipEntry> entries = {
      {"OFD.xml", decl + "<ofd:OFD " + kNs +
                      " Version=\"1.0\" DocType=\"OFD\"><ofd:DocBody><ofd:DocInfo><ofd:DocID>"
                      "6a1f0c4e2b7d4f0e9c3b5a7d8e9f0a1b</ofd:DocID><ofd:CreationDate>2026-11-27</ofd:CreationDate>"
                      "</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"},
      {"Doc_0/Document.xml", decl + "<ofd:Document " + kNs + "><ofd:CommonData><ofd:MaxUnitID>" +
                                 std::to_string(next_id - 1) +
                                 "</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox>"
                                 "</ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
                                 "<ofd:Pages>" + pages + "</ofd:Pages></ofd:Document>"},
      {"Doc_0/PublicRes.xml", decl + "<ofd:Res " + kNs +
                                  " BaseLoc=\"Res\"><ofd:Fonts><ofd:Font ID=\"1\" FontName=\"SimSun\" "
                                  "FamilyName=\"SimSun\"/></ofd:Fonts></ofd:Res>"}};
  for (ZipEntry& p : page_parts) entries.push_back(std::move(p));
  return make_zip(entries);
}

std::string make_pdf(const std::vector<std::string>& page_texts, const PdfOptions& options) {
  std::vector<std::string> objects;  // objects[i] is object number i + 1, without "n 0 obj"
  std::string kids;
  for (std::size_t i = 0; i < page_texts.size(); ++i) kids += std::to_string(4 + 2 * i) + " 0 R ";
  objects.push_back("<< /Type /Catalog /Pages 2 0 R" +
                    std::string(options.javascript ? " /OpenAction << /S /JavaScript /JS (app.alert\\(1\\);) >>" : "") +
                    " >>");
  objects.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(page_texts.size()) + " >>");
  // The CID font's three helper objects follow the pages.
  const std::size_t after_pages = 4 + 2 * page_texts.size();
  if (options.cjk) {
    objects.push_back("<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H /DescendantFonts [" +
                      std::to_string(after_pages) + " 0 R] /ToUnicode " + std::to_string(after_pages + 2) + " 0 R >>");
  } else {
    objects.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  }
  for (std::size_t i = 0; i < page_texts.size(); ++i) {
    objects.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                      "/Contents " + std::to_string(5 + 2 * i) + " 0 R >>");
    objects.push_back(stream(page_content(page_texts[i], options.cjk)));
  }
  if (options.cjk) {
    objects.push_back("<< /Type /Font /Subtype /CIDFontType0 /BaseFont /SimSun /CIDSystemInfo << /Registry (Adobe) "
                      "/Ordering (Identity) /Supplement 0 >> /FontDescriptor " + std::to_string(after_pages + 1) +
                      " 0 R /DW 1000 >>");
    objects.push_back("<< /Type /FontDescriptor /FontName /SimSun /Flags 4 /FontBBox [0 -141 1000 859] /ItalicAngle 0 "
                      "/Ascent 859 /Descent -141 /CapHeight 683 /StemV 80 >>");
    objects.push_back(stream(identity_to_unicode()));
  }
  const std::string hash(64, 'A');  // 32 bytes in hex
  if (options.password_protected) {
    objects.push_back("<< /Filter /Standard /V 1 /R 2 /Length 40 /O <" + hash + "> /U <" + hash + "> /P -44 >>");
  }
  // ISO 32000-1 §7.5.2: the binary comment tells transfer tools this is not text.
  std::string pdf = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const std::size_t xref = pdf.size();
  // §7.5.4: each entry exactly 20 bytes, "nnnnnnnnnn ggggg n" and a two-byte end of line.
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (std::size_t off : offsets) {
    char entry[21];
    std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", off + (options.broken_xref ? 7 : 0));
    pdf += entry;
  }
  const std::string encrypt = options.password_protected
                                  ? " /Encrypt " + std::to_string(objects.size()) + " 0 R /ID [<" + hash.substr(0, 32) +
                                        "> <" + hash.substr(0, 32) + ">]"
                                  : "";
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R" + encrypt + " >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf + options.append;
}

std::string make_png(unsigned width, unsigned height, bool text_chunk) {
  std::string out;
  std::vector<std::vector<unsigned char>> rows;
  for (unsigned y = 0; y < height; ++y) rows.push_back(gradient_row(width, y));
  PngWriter w;
  w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (w.png == nullptr) fail("png_create_write_struct");
  w.info = png_create_info_struct(w.png);
  if (w.info == nullptr) fail("png_create_info_struct");
  if (setjmp(png_jmpbuf(w.png))) fail("libpng refused the image");
  png_set_write_fn(w.png, &out, png_append, png_no_flush);
  png_set_IHDR(w.png, w.info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  char key[] = "Comment";
  char value[] = "generated by ferry's tests";
  png_text text{};
  text.compression = PNG_TEXT_COMPRESSION_NONE;
  text.key = key;
  text.text = value;
  if (text_chunk) png_set_text(w.png, w.info, &text, 1);
  png_write_info(w.png, w.info);
  for (auto& row : rows) png_write_row(w.png, row.data());
  png_write_end(w.png, w.info);
  return out;
}

std::string make_jpeg(unsigned width, unsigned height, bool exif) {
  jpeg_compress_struct cinfo{};
  JpegError err{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  std::vector<unsigned char> row;  // before setjmp: a longjmp may not skip its construction
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    fail("libjpeg refused the image");
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 85, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  if (exif) {
    // "Exif\0\0", then a little-endian TIFF header (CIPA DC-008 §4.5.2) whose
    // first IFD holds no entries.
    static const unsigned char kExif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    jpeg_write_marker(&cinfo, JPEG_APP0 + 1, kExif, sizeof kExif);
  }
  while (cinfo.next_scanline < cinfo.image_height) {
    row = gradient_row(width, cinfo.next_scanline);
    JSAMPROW p = row.data();
    jpeg_write_scanlines(&cinfo, &p, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

}  // namespace ferry::test

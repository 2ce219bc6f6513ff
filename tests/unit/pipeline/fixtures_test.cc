// The fixture generators are only as good as the files they make: each is
// checked with the tools that decide a file's type in the field (libmagic,
// the database behind file(1)) and read back with the library that owns the
// format.
#include "tests/support/fixtures.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <magic.h>

#include <memory>

#include "ferry/pipeline/text.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;

class Magic {
 public:
  explicit Magic(int flags) : m_(magic_open(flags)) {
    if (m_ == nullptr || magic_load(m_, nullptr) != 0) throw std::runtime_error("libmagic cannot load its database");
  }
  ~Magic() { magic_close(m_); }
  std::string of(const std::string& bytes) const {
    const char* r = magic_buffer(m_, bytes.data(), bytes.size());
    return r ? r : "(error)";
  }

 private:
  magic_t m_;
};

std::string mime(const std::string& bytes) { return Magic(MAGIC_MIME_TYPE).of(bytes); }
std::string description(const std::string& bytes) { return Magic(MAGIC_NONE).of(bytes); }

struct ReadEntry {
  std::string name;
  unsigned type = 0;
  std::string data;
  std::string symlink;
  std::string hardlink;
  bool encrypted = false;
};

std::vector<ReadEntry> read_back(const std::string& archive, const std::string& password = {}) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_all(a.get());
  if (!password.empty()) archive_read_add_passphrase(a.get(), password.c_str());
  if (archive_read_open_memory(a.get(), archive.data(), archive.size()) != ARCHIVE_OK) throw std::runtime_error("open");
  std::vector<ReadEntry> out;
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    ReadEntry r;
    r.name = archive_entry_pathname(e);
    r.type = archive_entry_filetype(e);
    if (archive_entry_symlink(e)) r.symlink = archive_entry_symlink(e);
    if (archive_entry_hardlink(e)) r.hardlink = archive_entry_hardlink(e);
    r.encrypted = archive_entry_is_encrypted(e);
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) r.data.append(buf, static_cast<std::size_t>(n));
    if (n < 0) throw std::runtime_error(std::string("read: ") + archive_error_string(a.get()));
    out.push_back(r);
  }
  return out;
}

TEST(Fixtures, ZipHoldsEveryKindOfEntry) {
  const std::string zip = make_zip({{"dir/", "", ZipEntry::dir},
                                    {"dir/a.txt", "deflated text text text text"},
                                    {"b.bin", "stored", ZipEntry::file, "", true},
                                    {"link", "", ZipEntry::symlink, "../../etc/passwd"}});
  EXPECT_EQ(mime(zip), "application/zip");
  const std::vector<ReadEntry> entries = read_back(zip);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].type, static_cast<unsigned>(AE_IFDIR));
  EXPECT_EQ(entries[1].data, "deflated text text text text");
  EXPECT_EQ(entries[2].data, "stored");
  EXPECT_EQ(entries[3].type, static_cast<unsigned>(AE_IFLNK));
  EXPECT_EQ(entries[3].symlink, "../../etc/passwd");
  // The local header of a stored entry says method 0 (APPNOTE 4.4.5).
  const std::size_t b = zip.find("b.bin");
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ(zip[b - 30 + 8], '\0');
}

TEST(Fixtures, ZipWithAPasswordIsZipCrypto) {
  ZipOptions options;
  options.password = "s3cret";
  const std::string zip = make_zip({{"a.txt", "hidden"}}, options);
  EXPECT_EQ(zip.find("hidden"), std::string::npos);
  // General purpose bit 0: encrypted (APPNOTE 4.4.4).
  EXPECT_EQ(zip[6] & 1, 1);
  const std::vector<ReadEntry> entries = read_back(zip, "s3cret");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].encrypted);
  EXPECT_EQ(entries[0].data, "hidden");
}

TEST(Fixtures, TarIsNotAZip) {
  const std::string tar = make_tar({{"a.txt", "x"}, {"hard", "", ZipEntry::hardlink, "a.txt"}});
  EXPECT_EQ(mime(tar), "application/x-tar");
  const std::vector<ReadEntry> entries = read_back(tar);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].hardlink, "a.txt");
}

TEST(Fixtures, OfficeDocumentsAreNamedByLibmagic) {
  EXPECT_EQ(mime(make_docx({"hello"})), "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  EXPECT_EQ(mime(make_xlsx({{"a", "b"}})), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_EQ(mime(make_pptx({"slide"})), "application/vnd.openxmlformats-officedocument.presentationml.presentation");
  const std::vector<ReadEntry> entries = read_back(make_docx({"x"}));
  ASSERT_GE(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "[Content_Types].xml");
  EXPECT_EQ(entries[1].name, "_rels/.rels");
  EXPECT_EQ(entries[2].name, "word/document.xml");
}

TEST(Fixtures, MacroDocxCarriesAVbaProject) {
  const std::string docm = make_docx({"x"}, true);
  bool found = false;
  for (const ReadEntry& e : read_back(docm)) {
    if (e.name == "word/vbaProject.bin") found = e.data.rfind("\xD0\xCF\x11\xE0", 0) == 0;
    if (e.name == "[Content_Types].xml") {
      EXPECT_THAT(e.data, HasSubstr("macroEnabled.main+xml"));
    }
  }
  EXPECT_TRUE(found);
}

TEST(Fixtures, OfdFollowsTheStandardsLayout) {
  const std::vector<ReadEntry> entries = read_back(make_ofd({"one", "two"}));
  std::vector<std::string> names;
  for (const ReadEntry& e : entries) names.push_back(e.name);
  EXPECT_THAT(names, ::testing::ElementsAre("OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
                                            "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Pages/Page_1/Content.xml"));
  EXPECT_THAT(entries[0].data, HasSubstr("<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"));
  EXPECT_THAT(entries[4].data, HasSubstr("<ofd:TextCode X=\"0\" Y=\"5\">two</ofd:TextCode>"));
}

TEST(Fixtures, PdfIsReadByLibmagicAndPoppler) {
  const std::string pdf = make_pdf({"Hello PDF"});
  EXPECT_EQ(mime(pdf), "application/pdf");
  EXPECT_THAT(description(pdf), HasSubstr("PDF document, version 1.7"));
  crypto::Result<std::string> text = pipeline::extract_text(policy::FileType::pdf, pdf, {});
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_THAT(*text, HasSubstr("Hello PDF"));
  // The xref table points at each "n 0 obj" exactly.
  const std::size_t xref = pdf.find("\nxref\n") + 1;
  const std::size_t first = pdf.find("0000000000 65535 f \n", xref) + 20;
  const std::size_t offset = std::stoul(pdf.substr(first, 10));
  EXPECT_EQ(pdf.substr(offset, 7), "1 0 obj");
  EXPECT_EQ(pdf.substr(pdf.find("startxref\n") + 10, std::to_string(xref).size()), std::to_string(xref));
}

TEST(Fixtures, PdfOptions) {
  PdfOptions js;
  js.javascript = true;
  EXPECT_THAT(make_pdf({"x"}, js), HasSubstr("/S /JavaScript"));
  PdfOptions tail;
  tail.append = "PK\x03\x04 smuggled";
  const std::string appended = make_pdf({"x"}, tail);
  EXPECT_EQ(appended.substr(appended.size() - tail.append.size()), tail.append);
  EXPECT_NE(appended.find("%%EOF\n" + tail.append), std::string::npos);
  PdfOptions broken;
  broken.broken_xref = true;
  const std::string repaired = make_pdf({"still readable"}, broken);
  EXPECT_NE(repaired, make_pdf({"still readable"}));
  crypto::Result<std::string> text = pipeline::extract_text(policy::FileType::pdf, repaired, {});
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_THAT(*text, HasSubstr("still readable"));
}

TEST(Fixtures, ImagesAreNamedByLibmagic) {
  const std::string png = make_png(5, 3);
  EXPECT_EQ(mime(png), "image/png");
  EXPECT_THAT(description(png), HasSubstr("5 x 3"));
  EXPECT_NE(make_png(5, 3, true).find("tEXtComment"), std::string::npos);
  const std::string jpeg = make_jpeg(7, 4);
  EXPECT_EQ(mime(jpeg), "image/jpeg");
  EXPECT_THAT(description(jpeg), HasSubstr("7x4"));
  const std::string exif = make_jpeg(7, 4, true);
  EXPECT_EQ(mime(exif), "image/jpeg");
  EXPECT_THAT(description(exif), HasSubstr("Exif"));
}

}  // namespace
}  // namespace ferry::test

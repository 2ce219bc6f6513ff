// The CSV, JSON and XML readers, and the package readers' XML walk and OFD
// location resolution, take hostile text. The first byte picks the reader,
// the rest is the file; for docx and OFD it is wrapped into a package here
// (stored, so that mutations reach the XML rather than break the deflate
// stream): for docx it is word/document.xml, for OFD its first half is
// OFD.xml and its second half Doc_0/Document.xml, next to a page.
// Whatever the bytes: no crash, no unbounded recursion, the text limit
// holds, and an error always says something.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ferry/pipeline/text.h"
#include "tests/support/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ferry::policy::FileType;
  using ferry::test::ZipEntry;
  if (size == 0) return 0;
  static constexpr FileType kTypes[] = {FileType::csv, FileType::json, FileType::xml, FileType::docx, FileType::ofd};
  const FileType type = kTypes[data[0] % 5];
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string file = input;
  if (type == FileType::docx) {
    file = ferry::test::make_zip({{"[Content_Types].xml", "<Types/>", ZipEntry::file, "", true},
                                  {"word/document.xml", input, ZipEntry::file, "", true}});
  } else if (type == FileType::ofd) {
    const std::size_t half = input.size() / 2;
    file = ferry::test::make_zip({{"OFD.xml", input.substr(0, half), ZipEntry::file, "", true},
                                  {"Doc_0/Document.xml", input.substr(half), ZipEntry::file, "", true},
                                  {"Doc_0/Pages/Page_0/Content.xml", "<Page><TextCode>x</TextCode></Page>",
                                   ZipEntry::file, "", true}});
  }
  ferry::pipeline::TextLimits limits;
  limits.max_text = 1 << 20;
  const ferry::crypto::Result<std::string> r = ferry::pipeline::extract_text(type, file, limits);
  if (!r && r.error().message.empty()) std::abort();
  if (r && r->size() > limits.max_text) std::abort();
  return 0;
}

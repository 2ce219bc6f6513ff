// [disarm] OOXML and OFD rebuilds on generated documents: after the rebuild
// the active content is gone (by find_active_*, and independently: the
// member is not in the zip, the relationship is not in its part), the
// document still opens (every member reads back with its CRC checked,
// ferry's own zip reader and package classifier agree on the type, the text
// still extracts), and `removed` names each thing taken out.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ferry/disarm/disarm.h"
#include "ferry/pipeline/sniff.h"
#include "ferry/pipeline/text.h"
#include "ferry/pipeline/zip.h"
#include "tests/support/fixtures.h"
#include "tests/support/fixtures_packages.h"

namespace ferry::disarm {
namespace {

using crypto::Errc;
using policy::FileType;

const std::vector<std::string> kParagraphs = {"Quarterly report", "第二段：预算与进度"};

// Every member, read by libarchive (which checks each member's CRC-32 as it
// inflates): name -> bytes, in archive order kept by `order`.
struct Members {
  std::map<std::string, std::string> bytes;
  std::vector<std::string> order;
  bool has(const std::string& name) const { return bytes.count(name) != 0; }
  const std::string& at(const std::string& name) const { return bytes.at(name); }
};

Members read_all(const std::string& zip) {
  Members out;
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip_seekable(a.get());
  EXPECT_EQ(archive_read_open_memory(a.get(), zip.data(), zip.size()), ARCHIVE_OK);
  archive_entry* entry = nullptr;
  int rc = 0;
  while ((rc = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    const std::string name = archive_entry_pathname(entry);
    std::string data;
    char buffer[8192];
    la_ssize_t n = 0;
    while ((n = archive_read_data(a.get(), buffer, sizeof buffer)) > 0) data.append(buffer, static_cast<std::size_t>(n));
    EXPECT_EQ(n, 0) << name << ": " << archive_error_string(a.get());
    out.order.push_back(name);
    out.bytes.emplace(name, std::move(data));
  }
  EXPECT_EQ(rc, ARCHIVE_EOF) << archive_error_string(a.get());
  return out;
}

bool mentions(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

bool contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += "  " + l + "\n";
  return s;
}

// The checks every rebuilt package passes: it opens as the same type and
// has no active content left, and rebuilding it again takes nothing out.
void expect_sound(FileType type, const std::string& rebuilt, const std::vector<std::string>& texts) {
  crypto::Result<pipeline::ZipDirectory> directory = pipeline::read_zip_directory(rebuilt);
  ASSERT_TRUE(directory.ok()) << directory.error().message;
  const pipeline::PackageType classified = pipeline::classify_package(rebuilt, *directory);
  EXPECT_EQ(classified.type, policy::to_string(type));
  EXPECT_EQ(classified.problem, "");
  const Members members = read_all(rebuilt);
  EXPECT_EQ(members.order.size(), directory->members.size());
  if (type != FileType::ofd) {
    ASSERT_FALSE(members.order.empty());
    EXPECT_EQ(members.order[0], "[Content_Types].xml");
  }
  crypto::Result<std::string> text = pipeline::extract_text(type, rebuilt, pipeline::TextLimits{});
  ASSERT_TRUE(text.ok()) << text.error().message;
  for (const std::string& t : texts) EXPECT_NE(text->find(t), std::string::npos) << t << " not in:\n" << *text;
  crypto::Result<std::vector<std::string>> left = find_active_content(type, rebuilt);
  ASSERT_TRUE(left.ok()) << left.error().message;
  EXPECT_TRUE(left->empty()) << joined(*left);
  crypto::Result<Rebuilt> again = rebuild(type, rebuilt);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->removed.empty()) << joined(again->removed);
}

// Rebuilds `original`, checks find_active saw what the rebuild removed.
Rebuilt rebuilt_from(FileType type, const std::string& original) {
  crypto::Result<std::vector<std::string>> found = find_active_content(type, original);
  EXPECT_TRUE(found.ok()) << found.error().message;
  crypto::Result<Rebuilt> r = rebuild(type, original);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  if (found.ok()) {
    EXPECT_EQ(*found, r->removed) << "found:\n" << joined(*found) << "removed:\n" << joined(r->removed);
  }
  return std::move(*r);
}

// ---- clean documents ----

TEST(DisarmPackages, CleanDocumentsRebuildWithNothingRemovedAndTheSameParts) {
  const std::vector<std::pair<FileType, std::string>> documents = {
      {FileType::docx, test::make_docx(kParagraphs)},
      {FileType::xlsx, test::make_xlsx({{"名称", "金额"}, {"预算", "100"}})},
      {FileType::pptx, test::make_pptx({"第一页", "Second slide"})},
      {FileType::ofd, test::make_ofd({"第一页内容", "page two"})},
  };
  for (const auto& [type, original] : documents) {
    SCOPED_TRACE(std::string(policy::to_string(type)));
    const Rebuilt r = rebuilt_from(type, original);
    EXPECT_TRUE(r.removed.empty()) << joined(r.removed);
    EXPECT_NE(r.bytes, original);  // written anew, not passed through
    // Every member is there, byte for byte, and the text is the same.
    const Members before = read_all(original);
    const Members after = read_all(r.bytes);
    EXPECT_EQ(before.bytes, after.bytes);
    crypto::Result<std::string> text_before = pipeline::extract_text(type, original, pipeline::TextLimits{});
    crypto::Result<std::string> text_after = pipeline::extract_text(type, r.bytes, pipeline::TextLimits{});
    ASSERT_TRUE(text_before.ok() && text_after.ok());
    EXPECT_EQ(*text_before, *text_after);
    expect_sound(type, r.bytes, {});
  }
}

// ---- OOXML ----

TEST(DisarmPackages, VbaProjectInAPlainDocxIsRemoved) {
  const std::string original = test::make_docx_with_vba(kParagraphs);
  {
    // What the type stage sees: a VBA project makes it a docm.
    crypto::Result<pipeline::ZipDirectory> d = pipeline::read_zip_directory(original);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(pipeline::classify_package(original, *d).type, "docm");
  }
  const Rebuilt r = rebuilt_from(FileType::docx, original);
  EXPECT_TRUE(contains(r.removed, "word/vbaProject.bin (VBA macros)")) << joined(r.removed);
  EXPECT_TRUE(contains(r.removed, "word/vbaData.xml (VBA macros)")) << joined(r.removed);
  EXPECT_EQ(r.removed.size(), 2u) << joined(r.removed);
  const Members m = read_all(r.bytes);
  EXPECT_FALSE(m.has("word/vbaProject.bin"));
  EXPECT_FALSE(m.has("word/vbaData.xml"));
  EXPECT_FALSE(m.has("word/_rels/vbaProject.bin.rels"));
  EXPECT_EQ(m.at("word/_rels/document.xml.rels").find("vbaProject"), std::string::npos);
  EXPECT_EQ(m.at("[Content_Types].xml").find("vbaProject"), std::string::npos);
  EXPECT_EQ(m.at("[Content_Types].xml").find("vbaData"), std::string::npos);
  EXPECT_EQ(m.at("word/document.xml"), read_all(original).at("word/document.xml"));  // untouched, byte for byte
  expect_sound(FileType::docx, r.bytes, kParagraphs);
}

TEST(DisarmPackages, MacroEnabledDocumentIsRefusedNotConverted) {
  const std::string docm = test::make_docx(kParagraphs, /*macro=*/true);
  crypto::Result<Rebuilt> r = rebuild_ooxml(FileType::docx, docm);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_format);
  EXPECT_EQ(r.error().message, "a macro-enabled document (docm/xlsm/pptm)");
  crypto::Result<std::vector<std::string>> found = find_active_ooxml(docm, {});
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(contains(*found, "a macro-enabled document (docm/xlsm/pptm)")) << joined(*found);
  EXPECT_TRUE(contains(*found, "word/vbaProject.bin (VBA macros)")) << joined(*found);
}

TEST(DisarmPackages, RemoteTemplateRelationshipAndItsReferenceAreRemoved) {
  const std::string url = "http://203.0.113.7/templates/normal.dotm";
  const Rebuilt r = rebuilt_from(FileType::docx, test::make_docx_remote_template(kParagraphs, url));
  EXPECT_EQ(r.removed, std::vector<std::string>{"external relationship 'attachedTemplate' to " + url +
                                                " in word/_rels/settings.xml.rels (remote template)"});
  const Members m = read_all(r.bytes);
  EXPECT_EQ(m.at("word/_rels/settings.xml.rels").find(url), std::string::npos);
  EXPECT_EQ(m.at("word/_rels/settings.xml.rels").find("Relationship "), std::string::npos);
  // w:attachedTemplate named the relationship: a dangling r:id is a corrupt document.
  const std::string& settings = m.at("word/settings.xml");
  EXPECT_EQ(settings.find("attachedTemplate"), std::string::npos);
  EXPECT_NE(settings.find("w:defaultTabStop"), std::string::npos);
  EXPECT_TRUE(settings.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>")) << settings;
  expect_sound(FileType::docx, r.bytes, kParagraphs);
}

TEST(DisarmPackages, EmbeddedOleObjectAndActiveXControlAreRemoved) {
  const Rebuilt r = rebuilt_from(FileType::docx, test::make_docx_ole_activex(kParagraphs));
  for (const char* line : {"embedded OLE object word/embeddings/oleObject1.bin", "ActiveX control word/activeX/activeX1.xml",
                           "ActiveX control word/activeX/activeX1.bin", "OLE object in word/document.xml",
                           "ActiveX control in word/document.xml"}) {
    EXPECT_TRUE(contains(r.removed, line)) << line << " not in:\n" << joined(r.removed);
  }
  EXPECT_EQ(r.removed.size(), 5u) << joined(r.removed);
  const Members m = read_all(r.bytes);
  for (const char* gone : {"word/embeddings/oleObject1.bin", "word/activeX/activeX1.xml", "word/activeX/activeX1.bin",
                           "word/activeX/_rels/activeX1.xml.rels"}) {
    EXPECT_FALSE(m.has(gone)) << gone;
  }
  EXPECT_TRUE(m.has("word/media/image1.emf"));  // a picture, kept
  const std::string& document = m.at("word/document.xml");
  EXPECT_EQ(document.find("w:object"), std::string::npos);
  EXPECT_EQ(document.find("OLEObject"), std::string::npos);
  EXPECT_EQ(document.find("w:control"), std::string::npos);
  const std::string& rels = m.at("word/_rels/document.xml.rels");
  EXPECT_EQ(rels.find("oleObject"), std::string::npos);
  EXPECT_EQ(rels.find("activeX"), std::string::npos);
  EXPECT_NE(rels.find("media/image1.emf"), std::string::npos);
  const std::string& types = m.at("[Content_Types].xml");
  EXPECT_EQ(types.find("activeX"), std::string::npos);
  EXPECT_EQ(types.find("oleObject"), std::string::npos);
  expect_sound(FileType::docx, r.bytes, kParagraphs);
}

TEST(DisarmPackages, DdeAndIncludeFieldsLoseTheirInstructionsAndKeepTheirResults) {
  const Rebuilt r = rebuilt_from(FileType::docx, test::make_docx_dde(kParagraphs));
  EXPECT_EQ(r.removed,
            (std::vector<std::string>{
                "DDEAUTO field in word/document.xml (dynamic data exchange: starts a program), 2 times",
                "INCLUDEPICTURE field in word/document.xml (fetches a file or URL)",
                "field in word/document.xml (command built by a nested field)"}))
      << joined(r.removed);
  const std::string document = read_all(r.bytes).at("word/document.xml");
  EXPECT_EQ(document.find("fldSimple"), std::string::npos);
  EXPECT_EQ(document.find("EAUTO"), std::string::npos);
  EXPECT_EQ(document.find("cmd.exe"), std::string::npos);
  EXPECT_EQ(document.find("INCLUDEPICTURE"), std::string::npos);
  EXPECT_EQ(document.find("QUOTE"), std::string::npos);
  EXPECT_NE(document.find(" PAGE "), std::string::npos);  // harmless fields stay
  expect_sound(FileType::docx, r.bytes,
               {kParagraphs[0], kParagraphs[1], "simple field result", "complex field result", "included picture",
                "nested field result"});
}

TEST(DisarmPackages, RemoteImageGoesAndTheHyperlinkStays) {
  const std::string image = "https://tracker.example/pixel.png?id=42";
  const std::string link = "https://www.example.org/reports";
  const Rebuilt r = rebuilt_from(FileType::docx, test::make_docx_remote_image(kParagraphs, image, link));
  EXPECT_EQ(r.removed, std::vector<std::string>{"external relationship 'image' to " + image +
                                                " in word/_rels/document.xml.rels (remote image)"});
  const Members m = read_all(r.bytes);
  const std::string& rels = m.at("word/_rels/document.xml.rels");
  EXPECT_EQ(rels.find("tracker.example"), std::string::npos);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(rels.c_str()));
  const pugi::xml_node hyperlink = doc.document_element().find_child_by_attribute("Relationship", "Id", "rId2");
  ASSERT_TRUE(hyperlink);
  EXPECT_EQ(std::string(hyperlink.attribute("Target").value()), link);
  EXPECT_EQ(std::string(hyperlink.attribute("TargetMode").value()), "External");
  const std::string& document = m.at("word/document.xml");
  EXPECT_EQ(document.find("r:link"), std::string::npos);
  EXPECT_NE(document.find("<w:hyperlink r:id=\"rId2\">"), std::string::npos);
  expect_sound(FileType::docx, r.bytes, {kParagraphs[0], kParagraphs[1], "link text"});
}

TEST(DisarmPackages, WorkbookExternalLinksAndDdeLinksAreRemoved) {
  const std::string book = "file:///\\\\fileserver\\share\\prices.xlsx";
  const std::vector<std::vector<std::string>> rows = {{"品名", "单价"}, {"螺栓", "0.35"}};
  const Rebuilt r = rebuilt_from(FileType::xlsx, test::make_xlsx_external_links(rows, book));
  EXPECT_EQ(r.removed, (std::vector<std::string>{
                           "external workbook link xl/externalLinks/externalLink1.xml",
                           "DDE link xl/externalLinks/externalLink2.xml (dynamic data exchange: starts a program)",
                           "external workbook references in xl/workbook.xml"}))
      << joined(r.removed);
  const Members m = read_all(r.bytes);
  for (const char* gone : {"xl/externalLinks/externalLink1.xml", "xl/externalLinks/externalLink2.xml",
                           "xl/externalLinks/_rels/externalLink1.xml.rels"}) {
    EXPECT_FALSE(m.has(gone)) << gone;
  }
  EXPECT_EQ(m.at("xl/workbook.xml").find("externalReference"), std::string::npos);
  EXPECT_NE(m.at("xl/workbook.xml").find("<sheet name=\"Sheet1\""), std::string::npos);
  EXPECT_EQ(m.at("xl/_rels/workbook.xml.rels").find("externalLink"), std::string::npos);
  EXPECT_EQ(m.at("[Content_Types].xml").find("externalLink"), std::string::npos);
  expect_sound(FileType::xlsx, r.bytes, {"品名", "单价", "螺栓", "0.35"});
}

TEST(DisarmPackages, PresentationOleObjectFrameAndRunProgramActionAreRemoved) {
  const std::vector<std::string> slides = {"第一张幻灯片", "Second slide"};
  const Rebuilt r = rebuilt_from(FileType::pptx, test::make_pptx_ole(slides));
  EXPECT_EQ(r.removed, (std::vector<std::string>{
                           "embedded OLE object ppt/embeddings/oleObject1.bin",
                           "OLE object in ppt/slides/slide1.xml",
                           "action 'ppaction://program' (starts a program) in ppt/slides/slide1.xml"}))
      << joined(r.removed);
  const Members m = read_all(r.bytes);
  EXPECT_FALSE(m.has("ppt/embeddings/oleObject1.bin"));
  const std::string& slide = m.at("ppt/slides/slide1.xml");
  EXPECT_EQ(slide.find("graphicFrame"), std::string::npos);
  EXPECT_EQ(slide.find("oleObj"), std::string::npos);
  EXPECT_EQ(slide.find("ppaction"), std::string::npos);
  EXPECT_NE(slide.find("Click me"), std::string::npos);
  EXPECT_EQ(m.at("ppt/slides/_rels/slide1.xml.rels").find("oleObject"), std::string::npos);
  expect_sound(FileType::pptx, r.bytes, {slides[0], slides[1], "Click me"});
}

// Elements are matched by namespace, not by prefix: WordprocessingML bound
// to "x" is still WordprocessingML, and an element called "object" in
// another namespace is not an OLE object.
TEST(DisarmPackages, NamespacesDecideNotPrefixes) {
  const std::string document =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<x:document xmlns:x=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" "
      "xmlns:w=\"urn:example:not-word\"><x:body>"
      "<x:p><x:fldSimple x:instr=\"ddeauto cmd\"><x:r><x:t>kept result</x:t></x:r></x:fldSimple></x:p>"
      "<x:p><x:r><x:object><w:note/></x:object></x:r><x:r><x:t>after</x:t></x:r></x:p>"
      "<x:p><w:object><x:r><x:t>not an OLE object</x:t></x:r></w:object></x:p>"
      "</x:body></x:document>";
  const std::string original = test::make_zip(
      {{"[Content_Types].xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types "
        "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" "
        "ContentType=\"application/xml\"/><Default Extension=\"rels\" "
        "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Override "
        "PartName=\"/word/document.xml\" "
        "ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>"},
       {"_rels/.rels",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships "
        "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" "
        "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" "
        "Target=\"word/document.xml\"/></Relationships>"},
       {"word/document.xml", document}});
  const Rebuilt r = rebuilt_from(FileType::docx, original);
  EXPECT_EQ(r.removed, (std::vector<std::string>{
                           "DDEAUTO field in word/document.xml (dynamic data exchange: starts a program)",
                           "OLE object in word/document.xml"}))
      << joined(r.removed);
  const std::string rebuilt = read_all(r.bytes).at("word/document.xml");
  EXPECT_EQ(rebuilt.find("fldSimple"), std::string::npos);
  EXPECT_EQ(rebuilt.find("x:object"), std::string::npos);
  EXPECT_NE(rebuilt.find("<w:object>"), std::string::npos);
  expect_sound(FileType::docx, r.bytes, {"kept result", "after", "not an OLE object"});
}

// A VBA project or OLE object under an innocent name is found by its
// content type or by the type of the relationship pointing at it.
TEST(DisarmPackages, ActivePartsAreFoundByTypeNotOnlyByName) {
  const std::string types =
      "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
      "<Default Extension=\"xml\" ContentType=\"application/xml\"/><Default Extension=\"rels\" "
      "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"png\" "
      "ContentType=\"image/png\"/><Override PartName=\"/word/document.xml\" "
      "ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>"
      "<Override PartName=\"/word/fonts.dat\" ContentType=\"application/vnd.ms-office.vbaProject\"/></Types>";
  const std::string package_rels =
      "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
      "<Relationship Id=\"rId1\" "
      "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" "
      "Target=\"word/document.xml\"/></Relationships>";
  const std::string document =
      "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
      "<w:body><w:p><w:r><w:t>body text</w:t></w:r></w:p></w:body></w:document>";
  auto rels = [](const std::string& extra) {
    return "<?xml version=\"1.0\"?><Relationships "
           "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" "
           "Type=\"http://schemas.microsoft.com/office/2006/relationships/vbaProject\" Target=\"fonts.dat\"/>"
           "<Relationship Id=\"rId2\" "
           "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject\" "
           "Target=\"media/picture.dat\"/><Relationship Id=\"rId3\" "
           "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/image\" "
           "Target=\"media/real.png\"/>" + extra + "</Relationships>";
  };
  auto package = [&](const std::string& extra) {
    return test::make_zip({{"[Content_Types].xml", types},
                           {"_rels/.rels", package_rels},
                           {"word/document.xml", document},
                           {"word/_rels/document.xml.rels", rels(extra)},
                           {"word/fonts.dat", "VBA"},
                           {"word/media/picture.dat", "OLE"},
                           {"word/media/real.png", "PNG"}});
  };
  const Rebuilt r = rebuilt_from(FileType::docx, package(""));
  EXPECT_EQ(r.removed, (std::vector<std::string>{"word/fonts.dat (VBA macros)",
                                                 "embedded OLE object word/media/picture.dat"}))
      << joined(r.removed);
  const Members m = read_all(r.bytes);
  EXPECT_FALSE(m.has("word/fonts.dat"));
  EXPECT_FALSE(m.has("word/media/picture.dat"));
  EXPECT_TRUE(m.has("word/media/real.png"));
  EXPECT_EQ(m.at("word/_rels/document.xml.rels").find("rId1"), std::string::npos);
  EXPECT_EQ(m.at("word/_rels/document.xml.rels").find("rId2"), std::string::npos);
  EXPECT_NE(m.at("word/_rels/document.xml.rels").find("rId3"), std::string::npos);
  expect_sound(FileType::docx, r.bytes, {"body text"});

  // The main part itself named as an OLE object: nothing sensible is left.
  crypto::Result<Rebuilt> main = rebuild_ooxml(
      FileType::docx,
      package("<Relationship Id=\"rId9\" "
              "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject\" "
              "Target=\"document.xml\"/>"));
  ASSERT_FALSE(main.ok());
  EXPECT_EQ(main.error().code, Errc::bad_format);
  EXPECT_NE(main.error().message.find("main part word/document.xml"), std::string::npos) << main.error().message;
}

// ---- OFD ----

TEST(DisarmPackages, OfdActionsAndScriptsAreRemovedEverywhere) {
  const std::vector<std::string> pages = {"第一页正文", "page two"};
  const Rebuilt r = rebuilt_from(FileType::ofd, test::make_ofd_actions(pages));
  EXPECT_EQ(r.removed, (std::vector<std::string>{
                           "script Doc_0/Res/open.js",
                           "actions in Doc_0/Document.xml (Goto)",
                           "actions in Doc_0/Document.xml (URI)",
                           "actions in Doc_0/Pages/Page_0/Content.xml (URI)",
                           "actions in Doc_0/Pages/Page_0/Content.xml (Sound)",
                           "actions in Doc_0/Pages/Page_1/Content.xml (URI)",
                           "actions in Doc_0/Pages/Page_1/Content.xml (Sound)",
                           "actions in Doc_0/Annots/Page_0/Annotation.xml (URI)"}))
      << joined(r.removed);
  const Members m = read_all(r.bytes);
  EXPECT_FALSE(m.has("Doc_0/Res/open.js"));
  EXPECT_EQ(m.order.front(), "OFD.xml");
  for (const auto& [name, data] : m.bytes) {
    EXPECT_EQ(data.find("Actions"), std::string::npos) << name;
    EXPECT_EQ(data.find("tracker.example"), std::string::npos) << name;
  }
  EXPECT_NE(m.at("Doc_0/Document.xml").find("<ofd:Outlines><ofd:OutlineElem Title=\"Chapter 1\""), std::string::npos);
  EXPECT_NE(m.at("Doc_0/Annots/Page_0/Annotation.xml").find("AbbreviatedData"), std::string::npos);
  expect_sound(FileType::ofd, r.bytes, pages);
}

TEST(DisarmPackages, OfdAttachmentsAndExtensionsAreRemoved) {
  const std::vector<std::string> pages = {"附件说明页"};
  const Rebuilt r = rebuilt_from(FileType::ofd, test::make_ofd_attachment(pages));
  EXPECT_EQ(r.removed, (std::vector<std::string>{
                           "attachments list Doc_0/Attachs/Attachments.xml (named in Doc_0/Document.xml)",
                           "attachment Doc_0/Attachs/payload.exe",
                           "attachment Doc_0/Res/report.doc",
                           "extension data Doc_0/Extensions.xml (named in Doc_0/Document.xml)",
                           "extension data file Doc_0/ext/state.dat",
                           "attachment Doc_0/Attachs/stray.bin"}))
      << joined(r.removed);
  const Members m = read_all(r.bytes);
  for (const char* gone : {"Doc_0/Attachs/Attachments.xml", "Doc_0/Attachs/payload.exe", "Doc_0/Res/report.doc",
                           "Doc_0/Attachs/stray.bin", "Doc_0/Extensions.xml", "Doc_0/ext/state.dat"}) {
    EXPECT_FALSE(m.has(gone)) << gone;
  }
  const std::string& document = m.at("Doc_0/Document.xml");
  EXPECT_EQ(document.find("Attachments"), std::string::npos);
  EXPECT_EQ(document.find("Extensions"), std::string::npos);
  EXPECT_NE(document.find("<ofd:Pages>"), std::string::npos);
  expect_sound(FileType::ofd, r.bytes, pages);
}

// Member names outside ASCII (what Chinese producers write) cross as they
// are, whatever the process locale.
TEST(DisarmPackages, NonAsciiMemberNamesSurvive) {
  std::vector<test::ZipEntry> entries = {
      {"OFD.xml", "<?xml version=\"1.0\"?><ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:DocBody>"
                  "<ofd:DocRoot>文档/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"},
      {"文档/Document.xml", "<?xml version=\"1.0\"?><ofd:Document xmlns:ofd=\"http://www.ofdspec.org/2016\">"
                            "<ofd:Pages/></ofd:Document>"},
      {"文档/资源/图片.png", "PNG"}};
  const Rebuilt r = rebuilt_from(FileType::ofd, test::make_zip(entries));
  EXPECT_TRUE(r.removed.empty()) << joined(r.removed);
  crypto::Result<pipeline::ZipDirectory> d = pipeline::read_zip_directory(r.bytes);
  ASSERT_TRUE(d.ok());
  std::vector<std::string> names;
  for (const pipeline::ZipMember& m : d->members) names.push_back(m.utf8_name());
  EXPECT_EQ(names, (std::vector<std::string>{"OFD.xml", "文档/Document.xml", "文档/资源/图片.png"}));
  expect_sound(FileType::ofd, r.bytes, {});
}

// An attachment list naming the document's own files does not take the
// document with it.
TEST(DisarmPackages, OfdAttachmentListCannotNameTheDocumentItself) {
  std::vector<test::ZipEntry> entries = {
      {"OFD.xml", "<?xml version=\"1.0\"?><ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:DocBody>"
                  "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"},
      {"Doc_0/Document.xml", "<?xml version=\"1.0\"?><ofd:Document xmlns:ofd=\"http://www.ofdspec.org/2016\">"
                             "<ofd:Pages/><ofd:Attachments>Attachs/Attachments.xml</ofd:Attachments></ofd:Document>"},
      {"Doc_0/Attachs/Attachments.xml",
       "<?xml version=\"1.0\"?><ofd:Attachments xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:Attachment ID=\"1\" "
       "Name=\"a\"><ofd:FileLoc>/OFD.xml</ofd:FileLoc></ofd:Attachment><ofd:Attachment ID=\"2\" Name=\"b\">"
       "<ofd:FileLoc>../Document.xml</ofd:FileLoc></ofd:Attachment></ofd:Attachments>"}};
  crypto::Result<Rebuilt> r = rebuild_ofd(test::make_zip(entries));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_format);
  EXPECT_NE(r.error().message.find("names the document's own"), std::string::npos) << r.error().message;
}

// ---- hostile input and limits ----

TEST(DisarmPackages, GarbageIsBadFormat) {
  for (const std::string& bytes : {std::string(), std::string("not a zip at all"), std::string("PK\x03\x04garbage", 11),
                                   test::make_pdf({"x"})}) {
    crypto::Result<Rebuilt> office = rebuild_ooxml(FileType::docx, bytes);
    ASSERT_FALSE(office.ok());
    EXPECT_EQ(office.error().code, Errc::bad_format);
    crypto::Result<Rebuilt> ofd = rebuild_ofd(bytes);
    ASSERT_FALSE(ofd.ok());
    EXPECT_EQ(ofd.error().code, Errc::bad_format);
    EXPECT_FALSE(find_active_ooxml(bytes, {}).ok());
    EXPECT_FALSE(find_active_ofd(bytes, {}).ok());
  }
  // A zip that is not the package it claims to be.
  const std::string plain = test::make_zip({{"readme.txt", "hello"}});
  EXPECT_EQ(rebuild_ooxml(FileType::docx, plain).error().code, Errc::bad_format);
  EXPECT_EQ(rebuild_ofd(plain).error().code, Errc::bad_format);
  EXPECT_EQ(rebuild_ooxml(FileType::docx, test::make_ofd({"x"})).error().code, Errc::bad_format);
  EXPECT_EQ(rebuild_ooxml(FileType::pdf, test::make_docx(kParagraphs)).error().code, Errc::invalid_argument);
}

TEST(DisarmPackages, BrokenOrDoctypeXmlPartIsBadFormatNamingThePart) {
  const std::string types =
      "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
      "<Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" "
      "ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
  const std::string broken = test::make_zip({{"[Content_Types].xml", types}, {"word/document.xml", "<w:document><w:body>"}});
  crypto::Result<Rebuilt> r = rebuild_ooxml(FileType::docx, broken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_format);
  EXPECT_NE(r.error().message.find("word/document.xml"), std::string::npos) << r.error().message;

  const std::string doctype = test::make_zip(
      {{"[Content_Types].xml", types},
       {"word/document.xml", "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><d>&x;</d>"}});
  r = rebuild_ooxml(FileType::docx, doctype);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_format);
  EXPECT_NE(r.error().message.find("word/document.xml declares a DOCTYPE"), std::string::npos) << r.error().message;

  const std::string ofd_broken =
      test::make_zip({{"OFD.xml", "<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\">"}});
  crypto::Result<Rebuilt> o = rebuild_ofd(ofd_broken);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, Errc::bad_format);
  EXPECT_NE(o.error().message.find("OFD.xml"), std::string::npos) << o.error().message;
}

TEST(DisarmPackages, NestingDeeperThanTheLimitIsBadFormat) {
  std::string deep = "<?xml version=\"1.0\"?><ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\">";
  for (int i = 0; i < 5000; ++i) deep += "<a>";
  for (int i = 0; i < 5000; ++i) deep += "</a>";
  deep += "</ofd:OFD>";
  crypto::Result<Rebuilt> r = rebuild_ofd(test::make_zip({{"OFD.xml", deep}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_format);
  EXPECT_NE(r.error().message.find("nests deeper"), std::string::npos) << r.error().message;
}

TEST(DisarmPackages, LimitsAreExhausted) {
  const std::string docx = test::make_docx({std::string(100'000, 'a')});
  const std::string ofd = test::make_ofd({std::string(100'000, 'b')});
  Limits part;
  part.max_part = 50'000;
  EXPECT_EQ(rebuild_ooxml(FileType::docx, docx, part).error().code, Errc::exhausted);
  EXPECT_EQ(find_active_ooxml(docx, part).error().code, Errc::exhausted);
  EXPECT_EQ(rebuild_ofd(ofd, part).error().code, Errc::exhausted);
  Limits package;
  package.max_package = 90'000;
  EXPECT_EQ(rebuild_ooxml(FileType::docx, docx, package).error().code, Errc::exhausted);
  EXPECT_EQ(rebuild_ofd(ofd, package).error().code, Errc::exhausted);
  Limits output;
  output.max_output = 1'000;
  EXPECT_EQ(rebuild_ooxml(FileType::docx, docx, output).error().code, Errc::exhausted);
  EXPECT_EQ(rebuild_ofd(ofd, output).error().code, Errc::exhausted);
  // Just enough: the same documents rebuild.
  Limits enough;
  enough.max_part = 200'000;
  enough.max_package = 400'000;
  enough.max_output = 400'000;
  EXPECT_TRUE(rebuild_ooxml(FileType::docx, docx, enough).ok());
  EXPECT_TRUE(rebuild_ofd(ofd, enough).ok());
}

TEST(DisarmPackages, StepsAndDispatch) {
  EXPECT_EQ(step_for(FileType::docx), policy::SanitizeStep::office);
  EXPECT_EQ(step_for(FileType::ofd), policy::SanitizeStep::ofd);
  crypto::Result<std::vector<std::string>> found =
      find_active_content(FileType::ofd, test::make_ofd_attachment({"x"}));
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(mentions(*found, "Doc_0/Attachs/payload.exe"));
}

}  // namespace
}  // namespace ferry::disarm

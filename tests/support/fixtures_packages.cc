#include "tests/support/fixtures_packages.h"

#include <array>
#include <string_view>
#include <utility>

#include "tests/support/fixtures.h"

namespace ferry::test {

namespace {

constexpr const char* kDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
constexpr const char* kRelNs = "http://schemas.openxmlformats.org/package/2006/relationships";
constexpr const char* kOfficeRel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/";
constexpr const char* kMsRel = "http://schemas.microsoft.com/office/2006/relationships/";
constexpr const char* kWordNs =
    "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" "
    "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" "
    "xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\" "
    "xmlns:wp=\"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing\" "
    "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" "
    "xmlns:pic=\"http://schemas.openxmlformats.org/drawingml/2006/picture\"";
constexpr const char* kDocumentType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";

struct Rel {
  std::string id;
  std::string type;  // full URI
  std::string target;
  bool external = false;
};

std::string relationships(const std::vector<Rel>& rels) {
  std::string s = std::string(kDecl) + "<Relationships xmlns=\"" + kRelNs + "\">";
  for (const Rel& r : rels) {
    s += "<Relationship Id=\"" + r.id + "\" Type=\"" + r.type + "\" Target=\"" + xml_escape(r.target) + "\"" +
         (r.external ? " TargetMode=\"External\"" : "") + "/>";
  }
  return s + "</Relationships>";
}

// An OPC package: [Content_Types].xml, _rels/.rels naming `main`, the parts.
struct Opc {
  std::string main;
  std::string main_type;
  std::vector<std::pair<std::string, std::string>> overrides;  // part name (with '/') -> content type
  std::vector<std::pair<std::string, std::string>> defaults;   // extension -> content type
  std::vector<ZipEntry> parts;

  std::string zip() const {
    std::string types = std::string(kDecl) +
                        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
                        "<Default Extension=\"rels\" "
                        "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
                        "<Default Extension=\"xml\" ContentType=\"application/xml\"/>";
    for (const auto& [ext, type] : defaults) types += "<Default Extension=\"" + ext + "\" ContentType=\"" + type + "\"/>";
    types += "<Override PartName=\"/" + main + "\" ContentType=\"" + main_type + "\"/>";
    for (const auto& [part, type] : overrides) types += "<Override PartName=\"" + part + "\" ContentType=\"" + type + "\"/>";
    types += "</Types>";
    std::vector<ZipEntry> entries = {{"[Content_Types].xml", types},
                                     {"_rels/.rels", relationships({{"rId1", std::string(kOfficeRel) + "officeDocument", main}})}};
    for (const ZipEntry& p : parts) entries.push_back(p);
    return make_zip(entries);
  }
};

std::string word_paragraphs(const std::vector<std::string>& paragraphs) {
  std::string body;
  for (const std::string& p : paragraphs) body += "<w:p><w:r><w:t xml:space=\"preserve\">" + xml_escape(p) + "</w:t></w:r></w:p>";
  return body;
}

std::string word_document(const std::string& body) {
  return std::string(kDecl) + "<w:document " + kWordNs + "><w:body>" + body + "<w:sectPr/></w:body></w:document>";
}

Opc docx(const std::string& body, std::vector<Rel> document_rels) {
  Opc p{"word/document.xml", kDocumentType, {}, {}, {}};
  p.parts.push_back({"word/document.xml", word_document(body)});
  p.parts.push_back({"word/_rels/document.xml.rels", relationships(document_rels)});
  return p;
}

// The first 512 bytes of a compound file (MS-CFB 2.2): what OLE objects,
// VBA projects and ActiveX binaries are stored as.
std::string compound_file() {
  std::string s("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
  s.resize(512, '\0');
  return s;
}

// A run that starts, separates or ends a complex field (ECMA-376 Part 1 §17.16.18).
std::string fld_char(const char* type) { return std::string("<w:r><w:fldChar w:fldCharType=\"") + type + "\"/></w:r>"; }
std::string instr(const std::string& text) {
  return "<w:r><w:instrText xml:space=\"preserve\">" + xml_escape(text) + "</w:instrText></w:r>";
}
std::string run(const std::string& text) { return "<w:r><w:t xml:space=\"preserve\">" + xml_escape(text) + "</w:t></w:r>"; }

// ---- OFD ----

constexpr const char* kOfdNs = "xmlns:ofd=\"http://www.ofdspec.org/2016\"";
constexpr const char* kOfdDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

struct OfdParts {
  std::string document_extra;        // children of ofd:Document after ofd:Pages, in schema order
  std::string page_extra;            // children of each ofd:Page after ofd:Content
  std::string text_object_extra;     // children of each ofd:TextObject after ofd:TextCode
  std::vector<ZipEntry> members;     // more members
};

// GB/T 33190-2016 §7: OFD.xml -> Doc_0/Document.xml -> pages, as make_ofd
// writes them, with room for the extras.
std::string ofd(const std::vector<std::string>& page_texts, const OfdParts& extra) {
  std::string pages;
  std::vector<ZipEntry> page_parts;
  unsigned next_id = 2;
  for (std::size_t i = 0; i < page_texts.size(); ++i) {
    const std::string loc = "Pages/Page_" + std::to_string(i) + "/Content.xml";
    pages += "<ofd:Page ID=\"" + std::to_string(next_id++) + "\" BaseLoc=\"" + loc + "\"/>";
    const std::string layer = std::to_string(next_id++);
    const std::string object = std::to_string(next_id++);
    page_parts.push_back({"Doc_0/" + loc, std::string(kOfdDecl) + "<ofd:Page " + kOfdNs +
                                              "><ofd:Content><ofd:Layer ID=\"" + layer + "\"><ofd:TextObject ID=\"" +
                                              object + "\" Boundary=\"20 20 170 10\" Font=\"1\" Size=\"5\">" +
                                              "<ofd:TextCode X=\"0\" Y=\"5\">" + xml_escape(page_texts[i]) +
                                              "</ofd:TextCode>" + extra.text_object_extra +
                                              "</ofd:TextObject></ofd:Layer></ofd:Content>" + extra.page_extra +
                                              "</ofd:Page>"});
  }
  std::vector<ZipEntry> entries = {
      {"OFD.xml", std::string(kOfdDecl) + "<ofd:OFD " + kOfdNs +
                      " Version=\"1.0\" DocType=\"OFD\"><ofd:DocBody><ofd:DocInfo><ofd:DocID>"
                      "0c9b4f2a6e1d4c7b8a3f5e6d7c8b9a0f</ofd:DocID></ofd:DocInfo>"
                      "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"},
      {"Doc_0/Document.xml", std::string(kOfdDecl) + "<ofd:Document " + kOfdNs + "><ofd:CommonData><ofd:MaxUnitID>" +
                                 std::to_string(next_id + 20) +
                                 "</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox>"
                                 "</ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
                                 "<ofd:Pages>" + pages + "</ofd:Pages>" + extra.document_extra + "</ofd:Document>"},
      {"Doc_0/PublicRes.xml", std::string(kOfdDecl) + "<ofd:Res " + kOfdNs +
                                  " BaseLoc=\"Res\"><ofd:Fonts><ofd:Font ID=\"1\" FontName=\"SimSun\" "
                                  "FamilyName=\"SimSun\"/></ofd:Fonts></ofd:Res>"}};
  for (ZipEntry& p : page_parts) entries.push_back(std::move(p));
  for (const ZipEntry& m : extra.members) entries.push_back(m);
  return make_zip(entries);
}

}  // namespace

std::string make_docx_with_vba(const std::vector<std::string>& paragraphs) {
  Opc p = docx(word_paragraphs(paragraphs), {{"rId1", std::string(kMsRel) + "vbaProject", "vbaProject.bin"}});
  p.defaults.push_back({"bin", "application/vnd.ms-office.vbaProject"});
  p.overrides.push_back({"/word/vbaData.xml", "application/vnd.ms-word.vbaData+xml"});
  p.parts.push_back({"word/vbaProject.bin", compound_file()});
  p.parts.push_back({"word/_rels/vbaProject.bin.rels",
                     relationships({{"rId1", std::string(kMsRel) + "wordVbaData", "vbaData.xml"}})});
  p.parts.push_back({"word/vbaData.xml",
                     std::string(kDecl) +
                         "<wne:vbaSuppData xmlns:wne=\"http://schemas.microsoft.com/office/word/2006/wordml\">"
                         "<wne:mcds><wne:mcd wne:macroName=\"PROJECT.NEWMACROS.AUTOOPEN\" wne:name=\"Project.NewMacros.AutoOpen\" "
                         "wne:bEncrypt=\"00\" wne:cmg=\"56\"/></wne:mcds></wne:vbaSuppData>"});
  return p.zip();
}

std::string make_docx_remote_template(const std::vector<std::string>& paragraphs, const std::string& template_url) {
  Opc p = docx(word_paragraphs(paragraphs), {{"rId1", std::string(kOfficeRel) + "settings", "settings.xml"}});
  p.overrides.push_back(
      {"/word/settings.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"});
  p.parts.push_back({"word/settings.xml", std::string(kDecl) + "<w:settings " + kWordNs +
                                              "><w:attachedTemplate r:id=\"rId1\"/><w:defaultTabStop w:val=\"720\"/>"
                                              "</w:settings>"});
  p.parts.push_back({"word/_rels/settings.xml.rels",
                     relationships({{"rId1", std::string(kOfficeRel) + "attachedTemplate", template_url, true}})});
  return p.zip();
}

std::string make_docx_ole_activex(const std::vector<std::string>& paragraphs) {
  const std::string body =
      word_paragraphs(paragraphs) +
      "<w:p><w:r><w:object w:dxaOrig=\"1440\" w:dyaOrig=\"1440\"><v:shape id=\"_x0000_i1025\" type=\"#_x0000_t75\" "
      "style=\"width:72pt;height:72pt\" o:ole=\"\"><v:imagedata r:id=\"rId2\" o:title=\"\"/></v:shape>"
      "<o:OLEObject Type=\"Embed\" ProgID=\"Package\" ShapeID=\"_x0000_i1025\" DrawAspect=\"Icon\" "
      "ObjectID=\"_1700000000\" r:id=\"rId1\"/></w:object></w:r></w:p>"
      "<w:p><w:r><w:object w:dxaOrig=\"1440\" w:dyaOrig=\"360\"><v:shape id=\"_x0000_i1026\" type=\"#_x0000_t75\" "
      "style=\"width:72pt;height:18pt\"><v:imagedata r:id=\"rId4\" o:title=\"\"/></v:shape>"
      "<w:control r:id=\"rId3\" w:name=\"CommandButton1\" w:shapeid=\"_x0000_i1026\"/></w:object></w:r></w:p>";
  Opc p = docx(body, {{"rId1", std::string(kOfficeRel) + "oleObject", "embeddings/oleObject1.bin"},
                      {"rId2", std::string(kOfficeRel) + "image", "media/image1.emf"},
                      {"rId3", std::string(kOfficeRel) + "control", "activeX/activeX1.xml"},
                      {"rId4", std::string(kOfficeRel) + "image", "media/image2.emf"}});
  p.defaults.push_back({"bin", "application/vnd.openxmlformats-officedocument.oleObject"});
  p.defaults.push_back({"emf", "image/x-emf"});
  p.overrides.push_back({"/word/activeX/activeX1.xml", "application/vnd.ms-office.activeX+xml"});
  p.overrides.push_back({"/word/activeX/activeX1.bin", "application/vnd.ms-office.activeX"});
  p.parts.push_back({"word/embeddings/oleObject1.bin", compound_file()});
  p.parts.push_back({"word/media/image1.emf", std::string("\x01\x00\x00\x00 EMF preview", 16)});
  p.parts.push_back({"word/media/image2.emf", std::string("\x01\x00\x00\x00 EMF button", 15)});
  p.parts.push_back({"word/activeX/activeX1.xml",
                     std::string(kDecl) +
                         "<ax:ocx xmlns:ax=\"http://schemas.microsoft.com/office/2006/activeX\" "
                         "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" "
                         "ax:classid=\"{D7053240-CE69-11CD-A777-00DD01143C57}\" ax:persistence=\"persistStorage\" "
                         "r:id=\"rId1\"/>"});
  p.parts.push_back({"word/activeX/_rels/activeX1.xml.rels",
                     relationships({{"rId1", std::string(kMsRel) + "activeXControlBinary", "activeX1.bin"}})});
  p.parts.push_back({"word/activeX/activeX1.bin", compound_file()});
  return p.zip();
}

std::string make_docx_dde(const std::vector<std::string>& paragraphs) {
  const std::string body =
      word_paragraphs(paragraphs) +
      // §17.16.19 simple field.
      "<w:p><w:fldSimple w:instr=\" DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe &quot;/k calc.exe&quot; \">" +
      run("simple field result") + "</w:fldSimple></w:p>" +
      // A complex field whose command is split across two runs.
      "<w:p>" + fld_char("begin") + instr("DD") + instr("EAUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc\"") +
      fld_char("separate") + run("complex field result") + fld_char("end") + "</w:p>" +
      // A remote picture included when the field updates.
      "<w:p>" + fld_char("begin") + instr(" INCLUDEPICTURE \"http://tracker.example/p.png\" \\d ") +
      fld_char("separate") + run("included picture") + fld_char("end") + "</w:p>" +
      // `{ {QUOTE 68 68 69} "c:\\..." }`: the command is the nested field's result.
      "<w:p>" + fld_char("begin") + instr(" ") + fld_char("begin") + instr("QUOTE 68 68 69") + fld_char("separate") +
      run("DDE") + fld_char("end") + instr(" \"c:\\\\windows\\\\system32\\\\cmd.exe\" ") + fld_char("separate") +
      run("nested field result") + fld_char("end") + "</w:p>" +
      // A page number: harmless, stays.
      "<w:p>" + fld_char("begin") + instr(" PAGE ") + fld_char("separate") + run("1") + fld_char("end") + "</w:p>";
  return docx(body, {}).zip();
}

std::string make_docx_remote_image(const std::vector<std::string>& paragraphs, const std::string& image_url,
                                   const std::string& link_url) {
  const std::string body =
      word_paragraphs(paragraphs) +
      "<w:p><w:r><w:drawing><wp:inline><wp:extent cx=\"9525\" cy=\"9525\"/><wp:docPr id=\"1\" name=\"Picture 1\"/>"
      "<a:graphic><a:graphicData uri=\"http://schemas.openxmlformats.org/drawingml/2006/picture\"><pic:pic>"
      "<pic:nvPicPr><pic:cNvPr id=\"0\" name=\"pixel.png\"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill>"
      "<a:blip r:link=\"rId1\"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr/></pic:pic>"
      "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"
      "<w:p><w:hyperlink r:id=\"rId2\">" + run("link text") + "</w:hyperlink></w:p>";
  return docx(body, {{"rId1", std::string(kOfficeRel) + "image", image_url, true},
                     {"rId2", std::string(kOfficeRel) + "hyperlink", link_url, true}})
      .zip();
}

std::string make_xlsx_external_links(const std::vector<std::vector<std::string>>& rows, const std::string& book_url) {
  constexpr const char* kNs =
      "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
      "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"";
  std::string shared;
  std::string sheet_rows;
  std::size_t count = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    sheet_rows += "<row r=\"" + std::to_string(r + 1) + "\">";
    for (std::size_t c = 0; c < rows[r].size() && c < 26; ++c) {
      shared += "<si><t xml:space=\"preserve\">" + xml_escape(rows[r][c]) + "</t></si>";
      sheet_rows += "<c r=\"" + std::string(1, static_cast<char>('A' + c)) + std::to_string(r + 1) + "\" t=\"s\"><v>" +
                    std::to_string(count++) + "</v></c>";
    }
    sheet_rows += "</row>";
  }
  // A formula reading the first external book, and one reading the DDE link.
  sheet_rows += "<row r=\"" + std::to_string(rows.size() + 1) +
                "\"><c r=\"A" + std::to_string(rows.size() + 1) + "\"><f>[1]Sheet1!A1</f><v>42</v></c><c r=\"B" +
                std::to_string(rows.size() + 1) + "\"><f>[2]!'!A0'</f><v>0</v></c></row>";
  Opc p{"xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", {}, {}, {}};
  p.overrides = {
      {"/xl/worksheets/sheet1.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"},
      {"/xl/sharedStrings.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"},
      {"/xl/externalLinks/externalLink1.xml",
       "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"},
      {"/xl/externalLinks/externalLink2.xml",
       "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"}};
  p.parts = {
      {"xl/workbook.xml", std::string(kDecl) + "<workbook " + kNs +
                              "><sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets>"
                              "<externalReferences><externalReference r:id=\"rId3\"/><externalReference r:id=\"rId4\"/>"
                              "</externalReferences></workbook>"},
      {"xl/_rels/workbook.xml.rels",
       relationships({{"rId1", std::string(kOfficeRel) + "worksheet", "worksheets/sheet1.xml"},
                      {"rId2", std::string(kOfficeRel) + "sharedStrings", "sharedStrings.xml"},
                      {"rId3", std::string(kOfficeRel) + "externalLink", "externalLinks/externalLink1.xml"},
                      {"rId4", std::string(kOfficeRel) + "externalLink", "externalLinks/externalLink2.xml"}})},
      {"xl/worksheets/sheet1.xml", std::string(kDecl) + "<worksheet " + kNs + "><sheetData>" + sheet_rows +
                                       "</sheetData></worksheet>"},
      {"xl/sharedStrings.xml", std::string(kDecl) + "<sst " + kNs + " count=\"" + std::to_string(count) +
                                   "\" uniqueCount=\"" + std::to_string(count) + "\">" + shared + "</sst>"},
      {"xl/externalLinks/externalLink1.xml",
       std::string(kDecl) + "<externalLink " + kNs +
           "><externalBook r:id=\"rId1\"><sheetNames><sheetName val=\"Sheet1\"/></sheetNames></externalBook>"
           "</externalLink>"},
      {"xl/externalLinks/_rels/externalLink1.xml.rels",
       relationships({{"rId1", std::string(kOfficeRel) + "externalLinkPath", book_url, true}})},
      {"xl/externalLinks/externalLink2.xml",
       std::string(kDecl) + "<externalLink " + kNs +
           "><ddeLink ddeService=\"cmd\" ddeTopic=\"/c calc\"><ddeItems><ddeItem name=\"A0\" advise=\"1\"/>"
           "</ddeItems></ddeLink></externalLink>"}};
  return p.zip();
}

std::string make_pptx_ole(const std::vector<std::string>& slide_texts) {
  constexpr const char* kNs =
      "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" "
      "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" "
      "xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\" "
      "xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\"";
  Opc p{"ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        {}, {}, {}};
  p.defaults.push_back({"bin", "application/vnd.openxmlformats-officedocument.oleObject"});
  p.defaults.push_back({"emf", "image/x-emf"});
  std::vector<Rel> rels;
  std::string ids;
  std::vector<ZipEntry> slides;
  for (std::size_t i = 0; i < slide_texts.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    p.overrides.push_back(
        {"/ppt/slides/slide" + n + ".xml", "application/vnd.openxmlformats-officedocument.presentationml.slide+xml"});
    rels.push_back({"rId" + n, std::string(kOfficeRel) + "slide", "slides/slide" + n + ".xml"});
    ids += "<p:sldId id=\"" + std::to_string(256 + i) + "\" r:id=\"rId" + n + "\"/>";
    std::string extra;
    std::vector<Rel> slide_rels;
    if (i == 0) {
      // ECMA-376 Part 1 §19.3.2.4 oleObj in a graphic frame, as PowerPoint
      // writes it: mc:AlternateContent, the object with a picture as fallback.
      extra =
          "<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id=\"4\" name=\"Object 3\"/><p:cNvGraphicFramePr/><p:nvPr/>"
          "</p:nvGraphicFramePr><p:xfrm><a:off x=\"0\" y=\"0\"/><a:ext cx=\"914400\" cy=\"914400\"/></p:xfrm>"
          "<a:graphic><a:graphicData uri=\"http://schemas.openxmlformats.org/presentationml/2006/ole\">"
          "<mc:AlternateContent><mc:Choice Requires=\"v\"><p:oleObj spid=\"_x0000_s1026\" name=\"Packager Shell Object\" "
          "r:id=\"rId2\" imgW=\"914400\" imgH=\"914400\" progId=\"Package\"><p:embed/></p:oleObj></mc:Choice>"
          "<mc:Fallback><p:oleObj name=\"Packager Shell Object\" r:id=\"rId2\" imgW=\"914400\" imgH=\"914400\" "
          "progId=\"Package\"><p:embed/><p:pic><p:nvPicPr><p:cNvPr id=\"0\" name=\"\"/><p:cNvPicPr/><p:nvPr/>"
          "</p:nvPicPr><p:blipFill><a:blip r:embed=\"rId3\"/><a:stretch><a:fillRect/></a:stretch></p:blipFill>"
          "<p:spPr/></p:pic></p:oleObj></mc:Fallback></mc:AlternateContent></a:graphicData></a:graphic>"
          "</p:graphicFrame>"
          // [MS-PPTX] action setting "Run program" on a shape.
          "<p:sp><p:nvSpPr><p:cNvPr id=\"5\" name=\"Button\"><a:hlinkClick r:id=\"rId4\" "
          "action=\"ppaction://program\"/></p:cNvPr><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>"
          "<a:p><a:r><a:t>Click me</a:t></a:r></a:p></p:txBody></p:sp>";
      slide_rels = {{"rId2", std::string(kOfficeRel) + "oleObject", "../embeddings/oleObject1.bin"},
                    {"rId3", std::string(kOfficeRel) + "image", "../media/image1.emf"},
                    {"rId4", std::string(kOfficeRel) + "hyperlink", "file:///C:\\Windows\\System32\\calc.exe", true}};
    }
    slides.push_back({"ppt/slides/slide" + n + ".xml",
                      std::string(kDecl) + "<p:sld " + kNs +
                          "><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id=\"1\" name=\"\"/><p:cNvGrpSpPr/><p:nvPr/>"
                          "</p:nvGrpSpPr><p:grpSpPr/><p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"Text\"/><p:cNvSpPr "
                          "txBox=\"1\"/><p:nvPr/></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:p><a:r><a:t>" +
                          xml_escape(slide_texts[i]) + "</a:t></a:r></a:p></p:txBody></p:sp>" + extra +
                          "</p:spTree></p:cSld></p:sld>"});
    slides.push_back({"ppt/slides/_rels/slide" + n + ".xml.rels", relationships(slide_rels)});
  }
  p.parts.push_back({"ppt/presentation.xml", std::string(kDecl) + "<p:presentation " + kNs + "><p:sldIdLst>" + ids +
                                                 "</p:sldIdLst><p:sldSz cx=\"9144000\" cy=\"6858000\"/>"
                                                 "<p:notesSz cx=\"6858000\" cy=\"9144000\"/></p:presentation>"});
  p.parts.push_back({"ppt/_rels/presentation.xml.rels", relationships(rels)});
  for (ZipEntry& s : slides) p.parts.push_back(std::move(s));
  p.parts.push_back({"ppt/embeddings/oleObject1.bin", compound_file()});
  p.parts.push_back({"ppt/media/image1.emf", std::string("\x01\x00\x00\x00 EMF icon", 13)});
  return p.zip();
}

std::string make_ofd_actions(const std::vector<std::string>& page_texts) {
  OfdParts extra;
  // GB/T 33190-2016 §14.1: an action runs on an event (DO: the document
  // opens, PO: the page opens, CLICK).
  extra.document_extra =
      "<ofd:Outlines><ofd:OutlineElem Title=\"Chapter 1\"><ofd:Actions><ofd:Action Event=\"CLICK\"><ofd:Goto>"
      "<ofd:Dest Type=\"XYZ\" PageID=\"2\" Left=\"0\" Top=\"0\"/></ofd:Goto></ofd:Action></ofd:Actions>"
      "</ofd:OutlineElem></ofd:Outlines>"
      "<ofd:Actions><ofd:Action Event=\"DO\"><ofd:URI URI=\"http://tracker.example/opened\"/></ofd:Action>"
      "</ofd:Actions>"
      "<ofd:Annotations>Annots/Annotations.xml</ofd:Annotations>";
  extra.page_extra =
      "<ofd:Actions><ofd:Action Event=\"PO\"><ofd:Sound ResourceID=\"9\" Repeat=\"true\"/></ofd:Action></ofd:Actions>";
  extra.text_object_extra =
      "<ofd:Actions><ofd:Action Event=\"CLICK\"><ofd:URI URI=\"javascript:app.launchURL('http://x.example')\"/>"
      "</ofd:Action></ofd:Actions>";
  extra.members = {
      {"Doc_0/Annots/Annotations.xml",
       std::string(kOfdDecl) + "<ofd:Annotations " + kOfdNs +
           "><ofd:Page PageID=\"2\"><ofd:FileLoc>Page_0/Annotation.xml</ofd:FileLoc></ofd:Page></ofd:Annotations>"},
      {"Doc_0/Annots/Page_0/Annotation.xml",
       std::string(kOfdDecl) + "<ofd:PageAnnot " + kOfdNs +
           "><ofd:Annot ID=\"30\" Type=\"Link\"><ofd:Appearance Boundary=\"10 10 50 10\"><ofd:PathObject ID=\"31\" "
           "Boundary=\"0 0 50 10\"><ofd:Actions><ofd:Action Event=\"CLICK\"><ofd:URI URI=\"http://evil.example/\"/>"
           "</ofd:Action></ofd:Actions><ofd:AbbreviatedData>M 0 0 L 50 0 L 50 10 L 0 10 C</ofd:AbbreviatedData>"
           "</ofd:PathObject></ofd:Appearance></ofd:Annot></ofd:PageAnnot>"},
      {"Doc_0/Res/open.js", "app.alert('opened');\n"}};
  return ofd(page_texts, extra);
}

std::string make_ofd_attachment(const std::vector<std::string>& page_texts) {
  OfdParts extra;
  extra.document_extra =
      "<ofd:Attachments>Attachs/Attachments.xml</ofd:Attachments><ofd:Extensions>Extensions.xml</ofd:Extensions>";
  extra.members = {
      {"Doc_0/Attachs/Attachments.xml",
       std::string(kOfdDecl) + "<ofd:Attachments " + kOfdNs +
           "><ofd:Attachment ID=\"40\" Name=\"payload\" Format=\"exe\"><ofd:FileLoc>payload.exe</ofd:FileLoc>"
           "</ofd:Attachment><ofd:Attachment ID=\"41\" Name=\"report\" Format=\"doc\">"
           "<ofd:FileLoc>/Doc_0/Res/report.doc</ofd:FileLoc></ofd:Attachment></ofd:Attachments>"},
      {"Doc_0/Attachs/payload.exe", std::string("MZ\x90\x00", 4) + std::string(60, '\0')},
      {"Doc_0/Res/report.doc", compound_file()},
      {"Doc_0/Attachs/stray.bin", "listed nowhere"},
      {"Doc_0/Extensions.xml",
       std::string(kOfdDecl) + "<ofd:Extensions " + kOfdNs +
           "><ofd:Extension AppName=\"Writer\" RefId=\"3\"><ofd:Property Name=\"mode\">edit</ofd:Property>"
           "<ofd:ExtendData>ext/state.dat</ofd:ExtendData></ofd:Extension></ofd:Extensions>"},
      {"Doc_0/ext/state.dat", "opaque application state"}};
  return ofd(page_texts, extra);
}

}  // namespace ferry::test

// Generators for the [disarm] package fixtures: OOXML and OFD documents
// carrying the active content the rebuild must take out, each built in
// memory from its XML (no binaries without a generator). Every generator
// writes `paragraphs` (or cells, slide or page texts) as the document's
// visible text, so a test can check the text survives the rebuild.
//
// Like fixtures.h, these are test helpers: failures throw.
#pragma once

#include <string>
#include <vector>

namespace ferry::test {

// A DOCX carrying a VBA project under the plain (not macro-enabled) main
// content type: a .docm renamed. word/vbaProject.bin (a compound-file
// header) with its Default content type, word/vbaData.xml with its
// Override, the relationship from the document and vbaProject.bin.rels.
std::string make_docx_with_vba(const std::vector<std::string>& paragraphs);

// A DOCX whose word/settings.xml names an attached template by an External
// relationship to `template_url` (the remote template injection).
std::string make_docx_remote_template(const std::vector<std::string>& paragraphs, const std::string& template_url);

// A DOCX with an embedded OLE object (w:object with v:shape and
// o:OLEObject, word/embeddings/oleObject1.bin, its preview
// word/media/image1.emf) and an ActiveX control (w:object with w:control,
// word/activeX/activeX1.xml and .bin with their relationships).
std::string make_docx_ole_activex(const std::vector<std::string>& paragraphs);

// A DOCX with dangerous fields, each with a cached result:
//   a w:fldSimple DDEAUTO (result run "simple field result"),
//   a complex field whose instruction "DDEAUTO c:\\..." is split across
//     two w:instrText runs ("DD", "EAUTO ...") (result "complex field result"),
//   a complex INCLUDEPICTURE field with a remote URL,
//   a complex field whose command is spelled by a nested QUOTE field,
//   and a harmless PAGE field that must stay.
std::string make_docx_dde(const std::vector<std::string>& paragraphs);

// A DOCX with a picture linked from `image_url` (a:blip r:link, External
// image relationship: a tracking pixel) and a hyperlink to `link_url`
// (w:hyperlink, External hyperlink relationship) with the text "link text".
std::string make_docx_remote_image(const std::vector<std::string>& paragraphs, const std::string& image_url,
                                   const std::string& link_url);

// An XLSX whose workbook has externalReferences to two external link
// parts: xl/externalLinks/externalLink1.xml (externalBook, with an External
// relationship to `book_url`) and externalLink2.xml (a ddeLink to
// cmd|'/c calc').
std::string make_xlsx_external_links(const std::vector<std::vector<std::string>>& rows, const std::string& book_url);

// A PPTX whose first slide holds an embedded OLE object (p:graphicFrame
// with mc:AlternateContent around p:oleObj, ppt/embeddings/oleObject1.bin)
// and a shape whose click action starts a program (ppaction://program).
std::string make_pptx_ole(const std::vector<std::string>& slide_texts);

// An OFD with actions: a document-level Actions (on open, URI), a page's
// Actions (Goto), a text object's Actions (on click, URI), an outline item's
// Actions, a link annotation (Doc_0/Annots) whose appearance has Actions, and
// a script member Doc_0/Res/open.js.
std::string make_ofd_actions(const std::vector<std::string>& page_texts);

// An OFD with attachments: Document.xml's Attachments naming
// Doc_0/Attachs/Attachments.xml, which lists Doc_0/Attachs/payload.exe and
// /Doc_0/Res/report.doc (outside the Attachs folder); plus
// Doc_0/Attachs/stray.bin listed nowhere; and Extensions naming
// Doc_0/Extensions.xml with one ExtendData file Doc_0/ext/state.dat.
std::string make_ofd_attachment(const std::vector<std::string>& page_texts);

}  // namespace ferry::test

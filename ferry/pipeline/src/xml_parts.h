// Internal to the text stage: XML parsing with the entity rule, and the two
// ways of reading text out of a parsed document.
#pragma once

#include <pugixml.hpp>

#include <string_view>

#include "ferry/pipeline/src/text_parts.h"

namespace ferry::pipeline::text_parts {

// Parses UTF-8 XML (pugixml keeps its own copy of the bytes). `what` names
// the document in messages ("XML", "part word/document.xml"). A
// DOCTYPE that declares entities is refused: pugixml would not expand them,
// but a reader downstream might (billion laughs, external entities).
crypto::Status parse_xml(std::string_view utf8, std::string_view what, pugi::xml_document& doc);

// Every text and CDATA node and every attribute value, one per line.
crypto::Status all_xml_text(const pugi::xml_document& doc, TextOut& out);

// Office and OFD parts: the text of a run element (w:t, a:t, t, w:delText,
// w:instrText, ofd:TextCode) joins the runs before it; a line ends after a
// paragraph, shared string, cell, table cell or OFD text object, and after
// the text of any other element. descr and title attributes (alternative
// text of pictures and shapes) are lines of their own. Namespace prefixes
// are ignored: a package may bind any prefix.
crypto::Status package_part_text(const pugi::xml_document& doc, TextOut& out);

}  // namespace ferry::pipeline::text_parts

// The text keyword and personal-data rules read ([policy-inspect] stage 4):
// plain text decoded to UTF-8, and the words inside the structured types
// (CSV cells, JSON strings and numbers, XML text, OOXML and OFD parts, PDF
// pages). The object's true type is already decided; these functions trust
// the type and nothing else, and every failure hostile bytes can cause is a
// Result error:
//
//   bad_format  the bytes are not what the type says (invalid encoding,
//               control characters, malformed CSV/JSON/XML, a package part
//               missing or unreadable, an encrypted or broken PDF);
//   exhausted   a limit of TextLimits was reached (the text, one package
//               part, the package as a whole, the PDF page count).
//
// Nothing is written to disk: package members are read from memory with
// libarchive, each one stopped as soon as it grows beyond its limit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "policy/policy.h"

namespace ferry::pipeline {

struct TextLimits {
  std::uint64_t max_text = std::uint64_t{64} << 20;      // UTF-8 produced, all parts together
  std::uint64_t max_part = std::uint64_t{64} << 20;      // one member of a package, uncompressed
  std::uint64_t max_package = std::uint64_t{256} << 20;  // all members read from one package, uncompressed
  unsigned max_pdf_pages = 2000;
  unsigned max_json_depth = 256;                         // nested arrays and objects
};

// Plain text to UTF-8. Accepted encodings: UTF-8 (with or without BOM),
// UTF-16LE/BE (with or without BOM), GB18030 (a superset of GBK and GB2312).
//
// A BOM decides. Without one: bytes that contain NUL can only be UTF-16
// (the byte order is taken from where the NULs of ASCII-range code units
// fall); otherwise valid UTF-8 is UTF-8; otherwise UTF-16 if uchardet says
// so, then GB18030. Chinese text in UTF-16 with no ASCII at all has no NULs
// and GB18030 accepts its bytes as other characters; when GB18030 wins and
// the bytes also read as UTF-16 made only of Chinese characters and
// punctuation, that reading is kept as `alternative`, and the rules read
// both (extract_text does). Every candidate is checked by converting it
// with ICU and a stop callback, so one invalid sequence fails the candidate.
// uchardet naming another East Asian multi-byte encoding (Big5, Shift_JIS,
// EUC-JP, EUC-KR...) is refused rather than read as GB18030, which would turn
// it into plausible nonsense that hides its words from the rules.
//
// Decoded text may hold no control characters other than TAB, LF, CR and FF
// (no NUL, DEL or C1 controls): those mean binary data, not text.
struct DecodedText {
  std::string utf8;       // without the BOM
  std::string encoding;   // "utf-8", "utf-8-bom", "utf-16le", "utf-16be", "gb18030"
  std::string alternative;  // UTF-8; a second plausible reading, or empty
};
crypto::Result<DecodedText> decode_text(std::string_view bytes, const TextLimits& limits);

// Well-formed UTF-8 (RFC 3629) without a BOM and without the control
// characters decode_text refuses: the bytes are their own text. Checked
// eight ASCII bytes at a time.
bool is_clean_utf8(std::string_view bytes);

// The text of an object of the given true type, for keyword and
// personal-data rules:
//
//   txt   decode_text, and its alternative reading after a line break if
//         there is one.
//   csv   decode_text (the formats below need ASCII punctuation, so a
//         second reading does not arise), then every cell (RFC 4180 quoting; LF or CRLF ends a
//         record), one per line.
//   json  decode_text, then RFC 8259 strictly: every key and string value
//         (escapes resolved) and every number as written (an ID card number
//         stored as a JSON number keeps all its digits), one per line.
//   xml   decode_text, then pugixml: every text and CDATA node and every
//         attribute value, one per line. A DOCTYPE that declares entities is
//         refused; pugixml never expands DTD entities.
//   docx, xlsx, pptx
//         every XML part of the package, that is every member named *.xml or
//         declared XML by [Content_Types].xml (ECMA-376 Part 2 §10.1.2): main
//         parts, headers, footers, notes, comments, shared strings, sheets,
//         slides, custom XML and document properties alike, whatever their
//         names and wherever the relationships put them:
//         its text nodes, runs of a paragraph joined, a line after each
//         paragraph, cell, shared string and table cell, plus the alternative
//         text of pictures (descr and title attributes).
//   ofd   GB/T 33190-2016 §7: OFD.xml -> DocBody/DocRoot -> Document.xml ->
//         Pages/Page@BaseLoc -> page content, the TextCode text of each page in
//         order; then the text of every other XML member of the package
//         (annotations, attachments described in XML, custom tags). A broken
//         chain is not an error: the members are all read anyway.
//   pdf   poppler's page text, at most max_pdf_pages pages; an encrypted or
//         unreadable file is an error.
//   png, jpeg, zip
//         empty (archive members are inspected one by one by the archive stage).
crypto::Result<std::string> extract_text(policy::FileType type, std::string_view bytes, const TextLimits& limits);

}  // namespace ferry::pipeline

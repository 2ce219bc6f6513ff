// True type ([policy-inspect] stage 2, reason codes type.*): what an object
// is, decided by its content by two independent means that must agree.
//
//  1. libmagic (file(1)'s database): a MIME type and a charset.
//  2. ferry's own structural checks, which walk the format far enough that a
//     renamed or truncated file, or one with a second file glued on, fails:
//     PDF    ISO 32000-1 7.5: header, startxref -> xref table or stream,
//            trailer; nothing but white space after the last %%EOF.
//     ZIP    APPNOTE 6.3.10: end record, central directory, local headers,
//            no overlapping members (zip.h).
//     OOXML  ECMA-376 Part 2 (OPC): [Content_Types].xml names the main part,
//            which exists; macro-enabled packages are told apart (docm...).
//     OFD    GB/T 33190-2016 7.4: OFD.xml with DocBody/DocRoot naming a
//            document that exists.
//     PNG    ISO/IEC 15948 5.3: signature, IHDR first, every chunk's CRC,
//            IDAT, IEND last and nothing after it.
//     JPEG   ITU-T T.81 Annex B: SOI, marker segments, a frame header before
//            the scan, entropy-coded data, EOI and nothing after it.
//     text   valid UTF-8, UTF-16LE/BE or GB18030 (text.h), and for JSON,
//            XML and CSV the document parses.
//
// Disagreement is refused, not resolved: a file two parsers see differently
// is how content slips past one and is opened by the other.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/pipeline/pipeline.h"
#include "ferry/pipeline/text.h"
#include "ferry/pipeline/zip.h"
#include "policy/policy.h"

namespace ferry::pipeline {

// Each returns an empty string when the structure is sound, else what is
// wrong with it, in words an officer can act on.
std::string check_pdf_structure(std::string_view bytes);
std::string check_png_structure(std::string_view bytes);
std::string check_jpeg_structure(std::string_view bytes);

// What a sound ZIP is: "docx", "xlsx", "pptx" (or their macro-enabled and
// template variants "docm", "dotx", "xlsm", "pptm"...), "ofd", or "zip".
struct PackageType {
  std::string type;
  std::string problem;  // non-empty: claims to be OOXML/OFD but is broken
};
PackageType classify_package(std::string_view bytes, const ZipDirectory& directory);

// What the structural checks make of the bytes.
struct Structure {
  std::string type;     // a FileType name, a variant ("docm"), or empty: no format recognised
  std::string problem;  // non-empty: `type`'s signature is there, its structure is not
  // For text: every text type the bytes are valid as (txt always; json,
  // xml, csv when they parse), and the encoding.
  std::vector<policy::FileType> text_kinds;  // of those tried, see examine_structure
  std::vector<std::pair<policy::FileType, std::string>> text_problems;  // why json/xml/csv did not parse
  std::vector<std::pair<policy::FileType, std::string>> parsed_texts;   // what json/xml/csv that parsed hold (text.h)
  std::string encoding;
  std::string text;  // the text as UTF-8, for the text stages to reuse
  bool text_is_bytes = false;  // clean UTF-8: the text is the bytes themselves (not copied into `text`)
};
// `claimed`: the type the name claims, if any; CSV is only tried then, JSON
// and XML also when the text starts with '{'/'[' or '<'.
Structure examine_structure(std::string_view bytes, const TextLimits& limits,
                            std::optional<policy::FileType> claimed = std::nullopt);

// The type an extension claims ("report.PDF" -> pdf), if any.
std::optional<policy::FileType> type_of_extension(std::string_view name);
std::string_view extension_of(std::string_view name);

struct TypeDecision {
  std::string detected;                  // "docx", "docm", or libmagic's MIME type when nothing else is known
  std::optional<policy::FileType> type;  // set when the detectors agree on one of the policy's types
  std::optional<Reason> reason;          // type.*, see decide()
  std::string magic;                     // libmagic's "mime; charset=..."
  std::string encoding;                  // for text
  // For the text types: the text the content rules read (extract_text's,
  // worked out once here), or, when text_is_bytes, the object's bytes
  // themselves (clean UTF-8 plain text, not copied).
  bool has_text = false;
  std::string text;
  bool text_is_bytes = false;
};

// libmagic's handle is not shared between threads: one detector per thread.
class TypeDetector {
 public:
  TypeDetector();
  ~TypeDetector();
  TypeDetector(const TypeDetector&) = delete;
  TypeDetector& operator=(const TypeDetector&) = delete;

  // Empty when libmagic and its database loaded; else why not (every
  // decision is then type.unavailable: fail closed).
  const std::string& problem() const { return problem_; }

  // libmagic's "mime/type; charset=..." for the bytes; `text`: without the
  // database's soft magic (for bytes already found to be text).
  std::string magic(std::string_view bytes, bool text = false) const;

  // The decision for an object called `name` on a channel that allows
  // `allowed`.
  // In this order: libmagic missing (type.unavailable), no known format
  // (type.unknown), a broken structure (type.malformed), the detectors
  // disagree (type.mismatch), a type `allowed` does not list
  // (type.not_allowed), a name whose extension claims another type or none
  // (type.extension).
  TypeDecision decide(std::string_view name, std::string_view bytes, const std::vector<policy::FileType>& allowed,
                      const TextLimits& limits) const;

 private:
  struct Magic;
  std::unique_ptr<Magic> magic_;
  std::string problem_;
};

}  // namespace ferry::pipeline

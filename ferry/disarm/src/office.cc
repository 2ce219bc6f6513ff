// OOXML rebuild ([disarm] office): the package (ECMA-376 Part 2, Open
// Packaging Conventions) is rebuilt from the parts that show the document.
//
// What goes, and how it is found (by content type, by the type of the
// relationship that points at it, or by where Office stores it, whichever
// says so first, so that renaming a part does not hide it):
//   parts     VBA projects and their signatures and data (vbaProject.bin,
//             vbaData.xml), Excel 4.0 macro sheets, ActiveX controls
//             (activeX/), OLE objects and embedded packages (embeddings/),
//             ribbon customisations (customUI/, callbacks into macros),
//             attached toolbars and key bindings (macros again), external
//             workbook links and DDE links (externalLinks/), form control
//             properties (ctrlProps/), and the relationship parts of all
//             of these;
//   rels      every relationship with TargetMode="External" except
//             hyperlinks (remote templates, frames, OLE links, remote
//             images, sub-documents: each fetches something when the
//             document opens), every relationship to a part that went, and
//             every relationship of one of the types above;
//   content   the elements that use them: OLE objects and controls in the
//             main parts, DDE and include fields, external references and
//             DDE links in workbooks, PowerPoint actions that start a
//             program, run a macro or an OLE verb, and any element whose
//             r: attribute names a relationship that went (a dangling
//             reference makes Office call the document corrupt);
//   [Content_Types].xml  the Default and Override entries of all of it.
// Everything else is copied byte for byte; a part that changed is written
// back by pugixml with its declaration and encoding.
#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/disarm/disarm.h"
#include "ferry/disarm/src/package.h"

namespace ferry::disarm {

namespace {

using crypto::Errc;
using crypto::make_error;
using package::Element;
using package::for_line;
using package::lower;
using package::Part;
using package::Walk;
using package::XmlPart;

constexpr std::string_view kContentTypes = "[Content_Types].xml";
constexpr std::string_view kPackageRels = "_rels/.rels";
constexpr std::string_view kMacroEnabled = "a macro-enabled document (docm/xlsm/pptm)";

// Transitional (ECMA-376 Part 4) and Strict (Part 1) namespace names.
constexpr std::array<std::string_view, 2> kWordNs = {"http://schemas.openxmlformats.org/wordprocessingml/2006/main",
                                                     "http://purl.oclc.org/ooxml/wordprocessingml/main"};
constexpr std::array<std::string_view, 2> kSheetNs = {"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                                                      "http://purl.oclc.org/ooxml/spreadsheetml/main"};
constexpr std::array<std::string_view, 2> kSlideNs = {"http://schemas.openxmlformats.org/presentationml/2006/main",
                                                      "http://purl.oclc.org/ooxml/presentationml/main"};
constexpr std::array<std::string_view, 2> kDrawingNs = {"http://schemas.openxmlformats.org/drawingml/2006/main",
                                                        "http://purl.oclc.org/ooxml/drawingml/main"};
constexpr std::array<std::string_view, 2> kRelationshipsNs = {
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships"};
constexpr std::string_view kVmlOfficeNs = "urn:schemas-microsoft-com:office:office";

bool in(std::string_view ns, const std::array<std::string_view, 2>& names) {
  return ns == names[0] || ns == names[1];
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

// ---- what a part is ----

enum class Active {
  none,
  vba,
  macro_sheet,
  activex,
  ole_object,
  embedded_package,
  ribbon,
  toolbars,
  key_bindings,
  external_link,
  form_control,
};

// By content type (lower case, parameters dropped).
Active by_content_type(std::string_view type) {
  if (contains(type, "vbaproject") || contains(type, "vbadata")) return Active::vba;
  if (contains(type, "macrosheet")) return Active::macro_sheet;
  if (contains(type, "activex")) return Active::activex;
  if (contains(type, "oleobject")) return Active::ole_object;
  if (contains(type, "attachedtoolbars")) return Active::toolbars;
  if (contains(type, "keymapcustomizations")) return Active::key_bindings;
  if (contains(type, "externallink")) return Active::external_link;
  if (contains(type, "controlproperties")) return Active::form_control;
  return Active::none;
}

// By relationship type: the last segment of the Type URI, lower case
// (ECMA-376 Part 1 §15 and the Microsoft extensions in [MS-OFFMACRO2],
// [MS-OI29500]).
Active by_relationship(std::string_view kind) {
  if (one_of(kind, {"vbaproject", "vbaprojectsignature", "vbaprojectsignatureagile", "vbaprojectsignaturev3",
                    "wordvbadata"})) {
    return Active::vba;
  }
  if (one_of(kind, {"xlmacrosheet", "xlintlmacrosheet"})) return Active::macro_sheet;
  if (one_of(kind, {"activexcontrol", "activexcontrolbinary"})) return Active::activex;
  if (kind == "oleobject") return Active::ole_object;
  if (kind == "package") return Active::embedded_package;
  if (one_of(kind, {"extensibility", "usercustomization"})) return Active::ribbon;
  if (kind == "attachedtoolbars") return Active::toolbars;
  if (kind == "keymapcustomizations") return Active::key_bindings;
  if (kind == "externallink") return Active::external_link;
  if (kind == "ctrlprop") return Active::form_control;
  return Active::none;
}

std::vector<std::string> segments_of(std::string_view name) {
  std::vector<std::string> out;
  std::string low = lower(name);
  std::string_view rest = low;
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    out.emplace_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return out;
}

// By where Office stores it.
Active by_name(std::string_view name) {
  const std::vector<std::string> segments = segments_of(name);
  if (segments.empty()) return Active::none;
  const std::string& base = segments.back();
  if (contains(base, "vbaproject") || base == "vbadata.xml") return Active::vba;
  if (base.starts_with("attachedtoolbars")) return Active::toolbars;
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    const std::string& dir = segments[i];
    if (dir == "activex") return Active::activex;
    if (dir == "embeddings") return base.ends_with(".bin") ? Active::ole_object : Active::embedded_package;
    if (dir == "customui") return Active::ribbon;
    if (dir == "macrosheets") return Active::macro_sheet;
    if (dir == "externallinks") return Active::external_link;
    if (dir == "ctrlprops") return Active::form_control;
  }
  return Active::none;
}

std::string describe(Active what, const std::string& part, bool dde) {
  switch (what) {
    case Active::vba: return part + " (VBA macros)";
    case Active::macro_sheet: return part + " (Excel 4.0 macro sheet)";
    case Active::activex: return "ActiveX control " + part;
    case Active::ole_object: return "embedded OLE object " + part;
    case Active::embedded_package: return "embedded package " + part;
    case Active::ribbon: return part + " (ribbon customisation calling macros)";
    case Active::toolbars: return part + " (toolbars calling macros)";
    case Active::key_bindings: return part + " (key bindings calling macros)";
    case Active::external_link:
      return dde ? "DDE link " + part + " (dynamic data exchange: starts a program)" : "external workbook link " + part;
    case Active::form_control: return "form control " + part;
    case Active::none: break;
  }
  return part;
}

// Why an external relationship of this kind is dangerous, in an officer's words.
std::string external_reason(std::string_view kind) {
  if (kind == "attachedtemplate") return "remote template";
  if (kind == "frame") return "remote frame";
  if (kind == "oleobject") return "OLE link";
  if (kind == "image") return "remote image";
  if (kind == "subdocument") return "sub-document";
  if (kind == "externallinkpath") return "external workbook";
  if (one_of(kind, {"video", "audio", "media"})) return "remote media";
  return "remote resource";
}

std::string last_segment(std::string_view uri) {
  const std::size_t slash = uri.rfind('/');
  return std::string(slash == std::string_view::npos ? uri : uri.substr(slash + 1));
}

// RFC 3986 §3.1: a scheme is a letter followed by letters, digits, '+',
// '-' or '.', then ':'. A drive letter ("C:") reads as one too, as it
// should: it is outside the package. So are "\\server" and "//host".
bool names_outside(std::string_view target) {
  if (target.starts_with("\\\\") || target.starts_with("//")) return true;
  for (std::size_t i = 0; i < target.size(); ++i) {
    const auto c = static_cast<unsigned char>(target[i]);
    if (c == ':') return i > 0;
    if (!(std::isalpha(c) || (i > 0 && (std::isdigit(c) || c == '+' || c == '-' || c == '.')))) return false;
  }
  return false;
}

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "word/_rels/document.xml.rels" -> "word/document.xml"; "_rels/.rels" ->
// "" (the package); nullopt for a name that is not a relationships part
// (OPC §9.3.3.1: the folder "_rels" next to the source, its name + ".rels").
std::optional<std::string> source_of_rels(std::string_view name) {
  const std::string low = lower(name);
  if (!low.ends_with(".rels")) return std::nullopt;
  const std::size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view folder = name.substr(0, slash);
  const std::size_t parent = folder.rfind('/');
  const std::string_view last = parent == std::string_view::npos ? folder : folder.substr(parent + 1);
  if (lower(last) != "_rels") return std::nullopt;
  const std::string_view base = name.substr(slash + 1, name.size() - slash - 1 - 5);
  return std::string(parent == std::string_view::npos ? std::string_view() : name.substr(0, parent + 1)) +
         std::string(base);
}

std::string strip_parameters(std::string_view content_type) {
  return lower(content_type.substr(0, content_type.find(';')));
}

bool is_xml_content_type(std::string_view type) {
  return type == "application/xml" || type == "text/xml" || type.ends_with("+xml");
}

// ---- fields (ECMA-376 Part 1 §17.16) ----

// The field's command: its first word, upper case. §17.16.1: a field
// instruction starts with the field type; white space before it is allowed.
std::string field_command(std::string_view instruction) {
  std::size_t i = 0;
  while (i < instruction.size() && (std::isspace(static_cast<unsigned char>(instruction[i])) || instruction[i] == '"')) ++i;
  std::string word;
  while (i < instruction.size() && !std::isspace(static_cast<unsigned char>(instruction[i])) && instruction[i] != '"' &&
         instruction[i] != '\\') {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(instruction[i])));
    ++i;
  }
  return word;
}

// §17.16.5: DDE and DDEAUTO start a program to fetch their value (DDEAUTO
// without asking); INCLUDETEXT, INCLUDEPICTURE, IMPORT and LINK read a file
// or URL named in the instruction.
std::optional<std::string> field_danger(std::string_view command) {
  if (command == "DDE" || command == "DDEAUTO") return "dynamic data exchange: starts a program";
  if (one_of(command, {"INCLUDETEXT", "INCLUDEPICTURE", "IMPORT", "LINK"})) return "fetches a file or URL";
  return std::nullopt;
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

// ---- the content of one XML part ----

class ContentScan {
 public:
  ContentScan(std::string_view part, const std::set<std::string>& removed_ids) : part_(part), removed_ids_(removed_ids) {}

  Walk visit(const Element& e) {
    while (!frames_.empty() && frames_.back().first >= e.depth) frames_.pop_back();
    if (doomed_depth_ != 0 && e.depth <= doomed_depth_) doomed_depth_ = 0;
    if (doomed_depth_ != 0) return Walk::skip;

    const Walk walk = by_kind(e);
    if (walk == Walk::skip || (!edits_.unwrap.empty() && edits_.unwrap.back() == e.node)) return walk;
    // After the rules above, so that an object whose relationship went is
    // reported and removed whole (a slide's graphic frame, not only its
    // p:oleObj).
    if (e.depth > 1 && !removed_ids_.empty() && names_removed_relationship(e)) return remove(e.node);
    return Walk::descend;
  }

  // Fields still open at the end of the part (no "end" fldChar): their
  // instruction counts as it stands.
  void finish() {
    while (!fields_.empty()) close_field();
  }

  package::Edits& edits() { return edits_; }

  // One line per kind of finding, with a count when it recurs.
  void report(std::vector<std::string>& out) const {
    for (const std::string& what : order_) {
      const std::size_t n = counts_.at(what);
      out.push_back(n == 1 ? what : what + ", " + std::to_string(n) + " times");
    }
  }

 private:
  struct Field {
    std::vector<pugi::xml_node> instructions;  // w:instrText of this field and of fields nested in its instruction
    std::string text;
    bool collecting = true;          // before "separate"
    bool inside_blank_instruction = false;  // began where its parent's instruction was still blank
    bool command_from_field = false;  // the instruction starts with a nested field's result
  };

  Walk by_kind(const Element& e) {
    if (in(e.ns, kWordNs)) return word(e);
    if (e.ns == kVmlOfficeNs && e.local == "OLEObject") return remove(e.node, "OLE object");
    if (in(e.ns, kSheetNs)) return sheet(e);
    if (in(e.ns, kSlideNs)) return slide(e);
    if (in(e.ns, kDrawingNs) && one_of(e.local, {"hlinkClick", "hlinkHover", "hlinkMouseOver"})) return hyperlink(e);
    return Walk::descend;
  }

  void note(const std::string& what) {
    if (counts_[what]++ == 0) order_.push_back(what);
  }

  Walk remove(pugi::xml_node n, std::string_view what = {}) {
    if (!what.empty()) note(std::string(what) + " in " + part_);
    edits_.remove.push_back(n);
    return Walk::skip;
  }

  bool names_removed_relationship(const Element& e) const {
    for (pugi::xml_attribute a = e.node.first_attribute(); a; a = a.next_attribute()) {
      if (in(e.scope.attribute_namespace(a.name()), kRelationshipsNs) && removed_ids_.count(a.value())) return true;
    }
    return false;
  }

  pugi::xml_attribute attribute(const Element& e, const std::array<std::string_view, 2>& ns, std::string_view local) const {
    for (pugi::xml_attribute a = e.node.first_attribute(); a; a = a.next_attribute()) {
      if (package::local_name(a.name()) == local && in(e.scope.attribute_namespace(a.name()), ns)) return a;
    }
    return {};
  }

  Walk word(const Element& e) {
    if (e.local == "object") {
      // §17.3.3.19: an embedded object; with a w:control inside it is an
      // ActiveX control ([MS-DOCX]), otherwise OLE.
      bool control = false;
      for (pugi::xml_node c = e.node.first_child(); c; c = c.next_sibling()) {
        control = control || package::local_name(c.name()) == "control";
      }
      return remove(e.node, control ? "ActiveX control" : "OLE object");
    }
    if (e.local == "control") return remove(e.node, "ActiveX control");
    if (e.local == "fldSimple") {
      // §17.16.19: the instruction is an attribute, the result the content;
      // the result stays, as plain runs.
      const std::string command = field_command(attribute(e, kWordNs, "instr").value());
      if (std::optional<std::string> why = field_danger(command)) {
        note(command + " field in " + part_ + " (" + *why + ")");
        edits_.unwrap.push_back(e.node);
      }
      return Walk::descend;
    }
    if (e.local == "fldChar") {
      // §17.16.18: begin, instruction runs, separate, result runs, end.
      const std::string_view type = attribute(e, kWordNs, "fldCharType").value();
      if (type == "begin") {
        Field f;
        f.inside_blank_instruction = !fields_.empty() && fields_.back().collecting && blank(fields_.back().text);
        fields_.push_back(std::move(f));
      } else if (type == "separate") {
        if (!fields_.empty() && fields_.back().collecting) {
          judge(fields_.back());
          fields_.back().collecting = false;
        }
      } else if (type == "end") {
        if (!fields_.empty()) close_field();
      }
      return Walk::skip;
    }
    if (e.local == "instrText") {
      if (!fields_.empty() && fields_.back().collecting) {
        fields_.back().text += e.node.text().get();
        fields_.back().instructions.push_back(e.node);
      }
      return Walk::skip;
    }
    return Walk::descend;
  }

  // A complex field whose command is dangerous, or is made by a nested field
  // (`{ {QUOTE 68 68 69} ... }` spells DDE where no scanner reads it), loses
  // its instruction, nested fields included: Word then shows the result it
  // saved and runs nothing.
  void judge(Field& f) {
    const std::string command = field_command(f.text);
    std::optional<std::string> why = field_danger(command);
    std::string what = command + " field";
    if (f.command_from_field) {
      why = "command built by a nested field";
      what = "field";
    }
    if (!why) return;
    note(what + " in " + part_ + " (" + *why + ")");
    for (pugi::xml_node n : f.instructions) edits_.empty.push_back(n);
    f.instructions.clear();
    f.text.clear();
  }

  void close_field() {
    Field f = std::move(fields_.back());
    fields_.pop_back();
    if (f.collecting) judge(f);
    if (fields_.empty() || !fields_.back().collecting) return;
    Field& parent = fields_.back();
    if (f.inside_blank_instruction && !blank(f.text)) parent.command_from_field = true;
    parent.instructions.insert(parent.instructions.end(), f.instructions.begin(), f.instructions.end());
  }

  Walk sheet(const Element& e) {
    // ECMA-376 Part 1 §18.3.1.60 oleObjects, §18.3.1.21 controls (in
    // worksheets), §18.2.9 externalReferences (workbook), §18.14.3 ddeLink.
    if (e.local == "oleObjects") return remove(e.node, "OLE objects");
    if (e.local == "controls") return remove(e.node, "ActiveX controls");
    if (e.local == "externalReferences") return remove(e.node, "external workbook references");
    if (e.local == "ddeLink") return remove(e.node, "DDE link");
    return Walk::descend;
  }

  Walk slide(const Element& e) {
    // §19.3.1.21 graphicFrame holds an OLE object (§19.3.2.4 oleObj) or an
    // ActiveX control (§19.3.2.1 control) inside a:graphicData, usually in
    // mc:AlternateContent with a picture as fallback: the whole frame goes,
    // since a frame without its object is not valid. §19.3.1.15 controls
    // lists a slide's controls.
    if (e.local == "graphicFrame") {
      frames_.emplace_back(e.depth, e.node);
      return Walk::descend;
    }
    if (e.local == "controls") return remove(e.node, "ActiveX controls");
    if (e.local == "oleObj" || e.local == "control") {
      const char* what = e.local == "oleObj" ? "OLE object" : "ActiveX control";
      if (frames_.empty()) return remove(e.node, what);
      doomed_depth_ = frames_.back().first;
      return remove(frames_.back().second, what);
    }
    return Walk::descend;
  }

  Walk hyperlink(const Element& e) {
    // [MS-PPTX] action settings: ppaction://program starts a program,
    // ppaction://macro runs one, ppaction://ole invokes an OLE verb.
    const std::string action = lower(e.node.attribute("action").value());
    const char* why = action.starts_with("ppaction://program") ? "starts a program"
                      : action.starts_with("ppaction://macro") ? "runs a macro"
                      : action.starts_with("ppaction://ole")   ? "OLE verb"
                                                               : nullptr;
    if (why == nullptr) return Walk::descend;
    return remove(e.node, "action '" + for_line(e.node.attribute("action").value(), 40) + "' (" + why + ")");
  }

  std::string part_;
  const std::set<std::string>& removed_ids_;
  package::Edits edits_;
  std::vector<Field> fields_;
  std::vector<std::pair<std::size_t, pugi::xml_node>> frames_;  // open p:graphicFrame elements: depth, node
  std::size_t doomed_depth_ = 0;  // depth of a frame already removed, 0: none
  std::map<std::string, std::size_t> counts_;
  std::vector<std::string> order_;
};

// ---- the package ----

struct Relationship {
  pugi::xml_node node;
  std::string id;
  std::string type;
  std::string kind;  // last segment of the type, lower case
  std::string target;
  bool external = false;
  std::size_t target_part = package::kNoPart;
};

struct RelationshipsPart {
  std::size_t index = 0;
  std::string source;  // the part they belong to, "" for the package
  XmlPart xml;
  std::vector<Relationship> relationships;
};

class OoxmlDisarm {
 public:
  explicit OoxmlDisarm(const package::Package& pkg)
      : pkg_(pkg), dropped_(pkg.parts.size(), false), is_relationships_(pkg.parts.size(), false),
        output_(pkg.parts.size()) {}

  // `rebuild`: refuse a macro-enabled package and write every changed part
  // back; otherwise only find.
  crypto::Status run(bool rebuild) {
    rebuild_ = rebuild;
    if (crypto::Status st = read_content_types(); !st) return st;
    if (crypto::Status st = read_relationships(); !st) return st;
    decide_parts();
    if (crypto::Status st = keep_main_part(); !st) return st;
    edit_relationships();
    edit_content_types();
    return edit_content();
  }

  std::vector<std::string> findings;

  // The parts of the new package: [Content_Types].xml, _rels/.rels, then
  // the rest in input order.
  std::vector<const Part*> kept() const {
    std::vector<const Part*> out;
    const std::size_t first = pkg_.index_of(kContentTypes);
    const std::size_t second = pkg_.index_of(kPackageRels);
    auto add = [&](std::size_t i) {
      if (i == package::kNoPart || dropped_[i]) return;
      out.push_back(output_[i] ? &*output_[i] : &pkg_.parts[i]);
    };
    add(first);
    add(second);
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      if (i != first && i != second) add(i);
    }
    return out;
  }

 private:
  std::string content_type_of(const std::string& name) const {
    const std::string low = lower(name);
    if (const auto it = overrides_.find(low); it != overrides_.end()) return it->second;
    const std::size_t dot = low.rfind('.');
    if (dot == std::string::npos || low.find('/', dot) != std::string::npos) return {};
    const auto it = defaults_.find(low.substr(dot + 1));
    return it == defaults_.end() ? std::string() : it->second;
  }

  void rewrite(std::size_t i, const XmlPart& xml) {
    if (rebuild_) output_[i] = Part{pkg_.parts[i].name, package::serialise_xml(xml)};
  }

  crypto::Status read_content_types() {
    content_types_index_ = pkg_.index_of(kContentTypes);
    if (content_types_index_ == package::kNoPart) {
      return make_error(Errc::bad_format, "OOXML package: no [Content_Types].xml");
    }
    if (crypto::Status st = package::parse_xml(pkg_.parts[content_types_index_], content_types_); !st) return st;
    const pugi::xml_node types = content_types_.doc.document_element();
    if (package::local_name(types.name()) != "Types") {
      return make_error(Errc::bad_format, "OOXML package: [Content_Types].xml has no Types element");
    }
    bool macro_enabled = false;
    for (pugi::xml_node n = types.first_child(); n; n = n.next_sibling()) {
      if (n.type() != pugi::node_element) continue;
      const std::string type = strip_parameters(n.attribute("ContentType").value());
      macro_enabled = macro_enabled || contains(type, "macroenabled");
      const std::string_view kind = package::local_name(n.name());
      if (kind == "Override") {
        std::string_view part = n.attribute("PartName").value();
        if (part.starts_with('/')) part.remove_prefix(1);
        overrides_.emplace(lower(part), type);
      } else if (kind == "Default") {
        defaults_.emplace(lower(n.attribute("Extension").value()), type);
      }
    }
    if (macro_enabled) {
      // The type stage refuses docm, xlsm and pptm before this runs; a
      // rebuild does not turn one into a docx by dropping its macros.
      if (rebuild_) return make_error(Errc::bad_format, std::string(kMacroEnabled));
      findings.emplace_back(kMacroEnabled);
    }
    return {};
  }

  crypto::Status read_relationships() {
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      std::optional<std::string> source = source_of_rels(pkg_.parts[i].name);
      if (!source) continue;
      is_relationships_[i] = true;
      // Parsed where it stays: node handles point into the document.
      auto& rels = *relationships_.emplace_back(std::make_unique<RelationshipsPart>());
      rels.index = i;
      rels.source = std::move(*source);
      if (crypto::Status st = package::parse_xml(pkg_.parts[i], rels.xml); !st) return st;
      const pugi::xml_node root = rels.xml.doc.document_element();
      for (pugi::xml_node n = root.first_child(); n; n = n.next_sibling()) {
        if (n.type() != pugi::node_element || package::local_name(n.name()) != "Relationship") continue;
        Relationship r;
        r.node = n;
        r.id = n.attribute("Id").value();
        r.type = n.attribute("Type").value();
        r.kind = lower(last_segment(r.type));
        r.target = n.attribute("Target").value();
        // OPC §9.3.2.2: TargetMode is Internal unless it says External; a
        // target with a scheme or a UNC path is outside the package
        // whatever the mode claims.
        r.external = lower(n.attribute("TargetMode").value()) == "external" || names_outside(r.target);
        if (!r.external) {
          const std::string_view target = std::string_view(r.target).substr(0, r.target.find('#'));
          const std::string name = package::resolve(rels.source, target);
          r.target_part = pkg_.index_of(name);
          if (r.target_part == package::kNoPart) r.target_part = pkg_.index_of(percent_decoded(name));
        }
        rels.relationships.push_back(std::move(r));
      }
    }
    return {};
  }

  bool is_relationships_part(std::size_t i) const { return is_relationships_[i]; }

  void decide_parts() {
    std::vector<Active> active(pkg_.parts.size(), Active::none);
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      if (i == content_types_index_ || is_relationships_part(i)) continue;
      active[i] = by_content_type(content_type_of(pkg_.parts[i].name));
    }
    for (const auto& rels : relationships_) {
      for (const Relationship& r : rels->relationships) {
        const std::size_t t = r.target_part;
        if (t == package::kNoPart || t == content_types_index_ || is_relationships_part(t)) continue;
        if (active[t] == Active::none) active[t] = by_relationship(r.kind);
      }
    }
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      if (i == content_types_index_ || is_relationships_part(i)) continue;
      if (active[i] == Active::none) active[i] = by_name(pkg_.parts[i].name);
      if (active[i] == Active::none) continue;
      dropped_[i] = true;
      findings.push_back(describe(active[i], for_line(pkg_.parts[i].name),
                                  active[i] == Active::external_link && has_dde_link(i)));
    }
    // The relationships of a part that went go with it, and so do those
    // stored where only active parts live.
    for (const auto& rels : relationships_) {
      const std::size_t source = pkg_.index_of(rels->source);
      if ((source != package::kNoPart && dropped_[source]) || by_name(pkg_.parts[rels->index].name) != Active::none) {
        dropped_[rels->index] = true;
      }
    }
    for (const std::string& name : pkg_.others) findings.push_back("member " + for_line(name) + " (a link, not a part)");
  }

  bool has_dde_link(std::size_t i) const {
    XmlPart xml;
    if (!package::parse_xml(pkg_.parts[i], xml)) return false;
    bool found = false;
    package::walk_elements(xml.doc, [&](const Element& e) {
      found = found || (in(e.ns, kSheetNs) && e.local == "ddeLink");
      return found ? Walk::skip : Walk::descend;
    });
    return found;
  }

  // OPC §8.3: the package relationship of type officeDocument names the
  // main part. A package that marks it as one of the parts above (a VBA
  // project dressed as the document) cannot be rebuilt.
  crypto::Status keep_main_part() const {
    for (const auto& rels : relationships_) {
      if (!rels->source.empty()) continue;
      for (const Relationship& r : rels->relationships) {
        if (r.kind == "officedocument" && r.target_part != package::kNoPart && dropped_[r.target_part]) {
          return make_error(Errc::bad_format,
                            "OOXML package: the main part " + for_line(pkg_.parts[r.target_part].name) +
                                " is itself active content");
        }
      }
    }
    return {};
  }

  void edit_relationships() {
    for (const auto& owned : relationships_) {
      RelationshipsPart& rels = *owned;
      if (dropped_[rels.index]) continue;
      const std::string& rels_name = pkg_.parts[rels.index].name;
      std::set<std::string>& ids = removed_ids_[lower(rels.source)];
      package::Edits edits;
      for (const Relationship& r : rels.relationships) {
        bool go = false;
        if (r.external) {
          // ECMA-376 Part 1 §17.16.5.23 hyperlinks are followed only when
          // the reader clicks them: they stay.
          if (r.kind == "hyperlink") continue;
          findings.push_back("external relationship '" + for_line(last_segment(r.type), 60) + "' to " +
                             for_line(r.target) + " in " + for_line(rels_name) + " (" + external_reason(r.kind) + ")");
          go = true;
        } else if (r.kind == "attachedtemplate") {
          findings.push_back("relationship 'attachedTemplate' to " + for_line(r.target) + " in " + for_line(rels_name) +
                             " (template)");
          go = true;
        } else {
          go = by_relationship(r.kind) != Active::none || (r.target_part != package::kNoPart && dropped_[r.target_part]);
        }
        if (!go) continue;
        ids.insert(r.id);
        edits.remove.push_back(r.node);
      }
      if (edits.any()) {
        edits.apply();
        rewrite(rels.index, rels.xml);
      }
    }
  }

  void edit_content_types() {
    package::Edits edits;
    const pugi::xml_node types = content_types_.doc.document_element();
    for (pugi::xml_node n = types.first_child(); n; n = n.next_sibling()) {
      if (n.type() != pugi::node_element) continue;
      const std::string type = strip_parameters(n.attribute("ContentType").value());
      bool go = by_content_type(type) != Active::none;
      if (package::local_name(n.name()) == "Override") {
        std::string_view part = n.attribute("PartName").value();
        if (part.starts_with('/')) part.remove_prefix(1);
        const std::size_t i = pkg_.index_of(part);
        go = go || (i != package::kNoPart && dropped_[i]);
      }
      if (go) edits.remove.push_back(n);
    }
    if (edits.any()) {
      edits.apply();
      rewrite(content_types_index_, content_types_);
    }
  }

  crypto::Status edit_content() {
    static const std::set<std::string> kNone;
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      if (dropped_[i] || i == content_types_index_ || is_relationships_part(i)) continue;
      const Part& part = pkg_.parts[i];
      if (!lower(part.name).ends_with(".xml") && !is_xml_content_type(content_type_of(part.name))) continue;
      XmlPart xml;
      if (crypto::Status st = package::parse_xml(part, xml); !st) return st;
      const auto ids = removed_ids_.find(lower(part.name));
      ContentScan scan(for_line(part.name), ids == removed_ids_.end() ? kNone : ids->second);
      package::walk_elements(xml.doc, [&](const Element& e) { return scan.visit(e); });
      scan.finish();
      scan.report(findings);
      if (scan.edits().any()) {
        scan.edits().apply();
        rewrite(i, xml);
      }
    }
    return {};
  }

  const package::Package& pkg_;
  bool rebuild_ = false;
  std::vector<bool> dropped_;
  std::vector<bool> is_relationships_;
  std::vector<std::optional<Part>> output_;  // a changed part, written anew
  std::size_t content_types_index_ = package::kNoPart;
  XmlPart content_types_;
  std::map<std::string, std::string> overrides_;  // part name (lower case, no leading '/') -> content type
  std::map<std::string, std::string> defaults_;   // extension (lower case) -> content type
  std::vector<std::unique_ptr<RelationshipsPart>> relationships_;
  std::map<std::string, std::set<std::string>> removed_ids_;  // source part (lower case) -> relationship ids gone
};

}  // namespace

crypto::Result<Rebuilt> rebuild_ooxml(policy::FileType type, std::string_view bytes, const Limits& limits) {
  if (type != policy::FileType::docx && type != policy::FileType::xlsx && type != policy::FileType::pptx) {
    return make_error(Errc::invalid_argument, "rebuild_ooxml: not an OOXML type: " + std::string(policy::to_string(type)));
  }
  return package::rebuild_with<OoxmlDisarm>(bytes, limits, "OOXML package");
}

crypto::Result<std::vector<std::string>> find_active_ooxml(std::string_view bytes, const Limits& limits) {
  return package::find_with<OoxmlDisarm>(bytes, limits, "OOXML package");
}

}  // namespace ferry::disarm

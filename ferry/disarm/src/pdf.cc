// PDF ([disarm], `sanitize: pdf`) with qpdf: the document is read into
// objects, every object the new file would hold is walked, what can act on
// its own or reach outside the document is cut out, and qpdf writes the
// objects that are left as a new file. Bytes outside the object structure
// (before %PDF-, after %%EOF: a polyglot's second format) cannot survive
// the writing; they are named so the officer is told.
//
// find_active_pdf runs the same walk on a copy in memory and reports what
// it would cut; nothing is written.
// qpdf 11: PointerHolder is gone from the API we use (std::shared_ptr only).
#define POINTERHOLDER_TRANSITION 4
#include <qpdf/Pipeline.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFExc.hh>
#include <qpdf/QPDFNameTreeObjectHelper.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFWriter.hh>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/disarm/disarm.h"

namespace ferry::disarm {

namespace {

using crypto::Errc;
using crypto::make_error;

// Direct objects nest inside one another without bound in the syntax; no
// real document comes near this, and a walk that cannot finish must not
// pass an object it did not see.
constexpr int kMaxNesting = 256;
// Names of one name tree listed one by one; beyond, a count.
constexpr std::size_t kMaxListed = 20;

// Annotation types that play or run something (ISO 32000-1 §12.5.6.15
// FileAttachment, .16 Sound, .17 Movie, .18 Screen; 32000-2 §13.6 3D,
// Adobe Supplement ext. level 3 RichMedia). They are removed whole.
bool active_annotation(std::string_view subtype) {
  for (std::string_view s : {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}) {
    if (subtype == s) return true;
  }
  return false;
}

// ISO 32000-1 Table 198 and 32000-2 Table 201: the action types.
bool action_type_name(std::string_view s) {
  for (std::string_view t : {"/GoTo", "/GoToR", "/GoToE", "/GoToDp", "/Launch", "/Thread", "/URI", "/Sound", "/Movie",
                             "/Hide", "/Named", "/SubmitForm", "/ResetForm", "/ImportData", "/JavaScript",
                             "/SetOCGState", "/Rendition", "/Trans", "/GoTo3DView", "/RichMediaExecute"}) {
    if (s == t) return true;
  }
  return false;
}

std::string short_text(std::string s, std::size_t max = 60) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F || c == '\'') c = '?';
  }
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

// Why an action may not stay, or nullopt when it may. Kept: GoTo (moves
// within this document), and on a click also URI to a web or mail address
// (the link the reader sees and chooses to follow; the receiving side's
// browser policy applies) and Named with the four standard page moves
// (§12.6.4.11 Table 212). Everything else goes: JavaScript and forms
// (SubmitForm, ImportData, ResetForm) run or send data; Launch, GoToR,
// GoToE, Thread to other files open other files or programs; Sound, Movie,
// Rendition, RichMediaExecute, GoTo3DView play content; Hide and
// SetOCGState change what is shown, which is how a document hides one text
// behind another; Trans and unknown types are not understood. A URI to
// file: or an SMB path hands the reader's credentials to a server, and
// javascript: is JavaScript. Opening the document (/OpenAction) may only
// move to a page: anything else would happen without a click.
std::optional<std::string> refused_action(QPDFObjectHandle action, bool on_open) {
  if (!action.isDictionary()) return "not an action";
  QPDFObjectHandle s = action.getKey("/S");
  if (!s.isName()) return "no action type";
  const std::string type = s.getName();
  if (type == "/GoTo") return std::nullopt;
  if (on_open) return type.substr(1);
  if (type == "/URI") {
    QPDFObjectHandle uri = action.getKey("/URI");
    const std::string target = uri.isString() ? uri.getStringValue() : "";
    for (std::string_view scheme : {"http://", "https://", "mailto:"}) {
      if (lowercase(target).compare(0, scheme.size(), scheme) == 0) return std::nullopt;
    }
    return "URI '" + short_text(target, 40) + "'";
  }
  if (type == "/Named") {
    QPDFObjectHandle n = action.getKey("/N");
    const std::string name = n.isName() ? n.getName() : "";
    for (std::string_view allowed : {"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"}) {
      if (name == allowed) return std::nullopt;
    }
    return "Named " + short_text(name);
  }
  return short_text(type.substr(1));
}

// Outside action positions, a dictionary is taken for an action when it
// says so or carries an action type and is not a structure element (whose
// /S names a structure type, §14.7.2, and which has a parent /P).
bool looks_like_action(QPDFObjectHandle h) {
  if (!h.isDictionary()) return false;
  if (h.getKey("/Type").isNameAndEquals("/Action")) return true;
  QPDFObjectHandle s = h.getKey("/S");
  return s.isName() && action_type_name(s.getName()) && !h.hasKey("/P");
}

// A file specification's name (§7.11.3: /UF, then /F), or the fallback.
std::string file_name(QPDFObjectHandle spec, const std::string& fallback) {
  if (spec.isString()) return short_text(spec.getUTF8Value());
  if (!spec.isDictionary()) return short_text(fallback);
  for (const char* key : {"/UF", "/F"}) {
    QPDFObjectHandle name = spec.getKey(key);
    if (name.isString()) return short_text(name.getUTF8Value());
  }
  return short_text(fallback);
}

// Output that stops the writer when it grows past the limit, rather than
// after it has built the whole file in memory.
struct OutputTooLarge {};

class BoundedOutput : public Pipeline {
 public:
  BoundedOutput(std::string& out, std::uint64_t max) : Pipeline("ferry disarm output", nullptr), out_(out), max_(max) {}
  void write(unsigned char const* data, size_t len) override {
    if (out_.size() + len > max_) throw OutputTooLarge{};
    out_.append(reinterpret_cast<const char*>(data), len);
  }
  void finish() override {}

 private:
  std::string& out_;
  std::uint64_t max_;
};

struct NestedTooDeep {};

// The walk over every object reachable from the trailer, and every direct
// dictionary and array inside each: QPDFWriter copies exactly that set
// (unreferenced objects are dropped), so an action under an unusual key is
// seen here, and one in an object nothing refers to is not written. Walking
// QPDF::getAllObjects() instead would also name objects no reader reaches
// and that the rebuilt file does not hold.
class ActiveContentWalk {
 public:
  explicit ActiveContentWalk(QPDF& pdf) : pdf_(pdf) {}

  std::vector<std::string> run() {
    name_places();
    std::deque<QPDFObjectHandle> queue{pdf_.getTrailer()};
    while (!queue.empty()) {
      QPDFObjectHandle h = queue.front();
      queue.pop_front();
      walk(h, where(h), 0, queue);
    }
    return std::move(found_);
  }

 private:
  std::string where(QPDFObjectHandle h) {
    if (!h.isIndirect()) return "in the trailer";
    auto it = places_.find(h.getObjGen());
    return it != places_.end() ? it->second : "in object " + std::to_string(h.getObjectID());
  }

  void name(QPDFObjectHandle h, std::string place) {
    if (h.isIndirect()) places_.emplace(h.getObjGen(), std::move(place));
  }

  // Where things are, in the officer's terms: pages by number, their
  // annotations by type, outline items and form fields by title.
  void name_places() {
    QPDFObjectHandle root = pdf_.getRoot();
    name(root, "in the catalog");
    name(root.getKey("/Pages"), "in the page tree");
    std::vector<QPDFObjectHandle> pages = pdf_.getAllPages();  // a copy: handles are used non-const
    for (std::size_t i = 0; i < pages.size(); ++i) {
      const std::string page = "on page " + std::to_string(i + 1);
      name(pages[i], page);
      QPDFObjectHandle annots = pages[i].getKey("/Annots");
      if (!annots.isArray()) continue;
      for (QPDFObjectHandle a : annots.aitems()) {
        if (a.isDictionary()) name(a, "on " + annotation_type(a) + " annotation " + page);
      }
    }
    std::set<QPDFObjGen> seen;
    QPDFObjectHandle outlines = root.getKey("/Outlines");
    if (outlines.isDictionary()) name_outline(outlines.getKey("/First"), seen);
    QPDFObjectHandle acroform = root.getKey("/AcroForm");
    if (acroform.isDictionary()) name_fields(acroform.getKey("/Fields"), seen, 0);
  }

  void name_outline(QPDFObjectHandle item, std::set<QPDFObjGen>& seen) {
    // Siblings iteratively (a long /Next chain is normal), children
    // recursively up to the nesting limit.
    for (int depth = 0; item.isDictionary() && item.isIndirect() && seen.insert(item.getObjGen()).second;
         item = item.getKey("/Next")) {
      QPDFObjectHandle title = item.getKey("/Title");
      name(item, "in outline item '" + short_text(title.isString() ? title.getUTF8Value() : "") + "'");
      if (++depth < kMaxNesting) name_outline(item.getKey("/First"), seen);
    }
  }

  void name_fields(QPDFObjectHandle fields, std::set<QPDFObjGen>& seen, int depth) {
    if (!fields.isArray() || depth > kMaxNesting) return;
    for (QPDFObjectHandle f : fields.aitems()) {
      if (!f.isDictionary() || !f.isIndirect() || !seen.insert(f.getObjGen()).second) continue;
      QPDFObjectHandle t = f.getKey("/T");
      name(f, "in form field '" + short_text(t.isString() ? t.getUTF8Value() : "") + "'");
      name_fields(f.getKey("/Kids"), seen, depth + 1);
    }
  }

  static std::string annotation_type(QPDFObjectHandle a) {
    QPDFObjectHandle subtype = a.getKey("/Subtype");
    return subtype.isName() ? short_text(subtype.getName().substr(1)) : "untyped";
  }

  void report(std::string line) { found_.push_back(std::move(line)); }

  // The entries of a name tree (§7.9.6), for naming what it held.
  std::map<std::string, QPDFObjectHandle> tree_entries(QPDFObjectHandle tree) {
    try {
      return QPDFNameTreeObjectHelper(tree, pdf_, false).getAsMap();
    } catch (const std::exception&) {
      return {};  // a broken tree is removed all the same, named as a whole
    }
  }

  void remove_javascript_tree(QPDFObjectHandle tree) {
    const auto entries = tree_entries(tree);
    std::size_t listed = 0;
    for (const auto& entry : entries) {
      if (listed++ == kMaxListed) break;
      report("document JavaScript '" + short_text(entry.first) + "'");
    }
    if (entries.empty()) report("document JavaScript (/Names /JavaScript)");
    if (entries.size() > kMaxListed) report(std::to_string(entries.size() - kMaxListed) + " more document JavaScripts");
  }

  void remove_embedded_files_tree(QPDFObjectHandle tree) {
    const auto entries = tree_entries(tree);
    std::size_t listed = 0;
    for (const auto& [key, spec] : entries) {
      if (listed++ == kMaxListed) break;
      report("embedded file '" + file_name(spec, key) + "'");
    }
    if (entries.empty()) report("embedded files (/Names /EmbeddedFiles)");
    if (entries.size() > kMaxListed) report(std::to_string(entries.size() - kMaxListed) + " more embedded files");
  }

  // Annotations that play or run something leave the page's /Annots.
  void filter_annotations(QPDFObjectHandle annots, const std::string& place) {
    if (!annots.isArray()) return;
    for (int i = annots.getArrayNItems() - 1; i >= 0; --i) {
      QPDFObjectHandle a = annots.getArrayItem(i);
      if (!a.isDictionary()) continue;
      const std::string type = annotation_type(a);
      if (!active_annotation("/" + type)) continue;
      std::string line = type + " annotation " + place;
      if (type == "FileAttachment") line += " (file '" + file_name(a.getKey("/FS"), "") + "')";
      removed_annotations_.push_back(std::move(line));
      annots.eraseItem(i);
    }
    // Reported in page order, not the reverse order of erasing.
    for (auto it = removed_annotations_.rbegin(); it != removed_annotations_.rend(); ++it) report(std::move(*it));
    removed_annotations_.clear();
  }

  // One entry of a dictionary; true when it was removed.
  bool check_entry(QPDFObjectHandle dict, const std::string& key, const std::string& place) {
    QPDFObjectHandle value = dict.getKey(key);
    if (value.isNull()) return false;  // §7.3.7: an entry whose value is null is absent
    if (key == "/AA") {  // §12.6.3: triggered by opening, closing, focus, keystrokes: never by a choice
      report("/AA " + place);
    } else if (key == "/JavaScript" && value.isDictionary()) {
      remove_javascript_tree(value);
    } else if (key == "/EmbeddedFiles" && value.isDictionary()) {
      remove_embedded_files_tree(value);
    } else if (key == "/XFA") {
      report("XFA form");
    } else if (key == "/EF") {  // §7.11.4: the embedded file streams of a file specification
      report("embedded file '" + file_name(dict, "") + "'");
    } else if (key == "/OpenAction" && value.isDictionary()) {
      auto why = refused_action(value, true);
      if (!why) return false;
      report("/OpenAction (" + *why + ") " + place);
    } else if ((key == "/A" || key == "/Next") && value.isDictionary()) {
      auto why = refused_action(value, false);
      if (!why) return false;
      report(key + " (" + *why + ") " + place);
    } else if (value.isStream() && value.getDict().getKey("/Type").isNameAndEquals("/EmbeddedFile")) {
      report("embedded file stream under " + short_text(key) + " " + place);
    } else if (key != "/OpenAction" && looks_like_action(value)) {
      auto why = refused_action(value, false);
      if (!why) return false;
      report(short_text(key) + " (" + *why + ") " + place);
    } else {
      return false;
    }
    dict.removeKey(key);
    if (key == "/XFA") dict.removeKey("/NeedsRendering");  // §12.7.2: the XFA it asked to render is gone
    return true;
  }

  // Items of an array that are refused actions (a /Next list, or one
  // hidden anywhere) become null, so positions of other items stay.
  void check_array(QPDFObjectHandle array, const std::string& key, const std::string& place) {
    const bool action_position = key == "/Next";
    for (int i = 0; i < array.getArrayNItems(); ++i) {
      QPDFObjectHandle item = array.getArrayItem(i);
      if (!item.isDictionary() || !(action_position || looks_like_action(item))) continue;
      if (auto why = refused_action(item, false)) {
        report(short_text(key) + " (" + *why + ") " + place);
        array.setArrayItem(i, QPDFObjectHandle::newNull());
      }
    }
  }

  void walk(QPDFObjectHandle h, const std::string& place, int depth, std::deque<QPDFObjectHandle>& queue,
            const std::string& key = {}) {
    if (depth > kMaxNesting) throw NestedTooDeep{};
    if (depth > 0 && h.isIndirect()) {
      if (visited_.insert(h.getObjGen()).second) {
        places_.emplace(h.getObjGen(), place);  // first finder names it, unless it has a name already
        queue.push_back(h);
      }
      return;
    }
    if (depth == 0 && h.isIndirect()) visited_.insert(h.getObjGen());
    if (h.isStream()) {
      walk(h.getDict(), place, depth + 1, queue);
    } else if (h.isArray()) {
      check_array(h, key, place);
      for (QPDFObjectHandle item : h.aitems()) walk(item, place, depth + 1, queue);
    } else if (h.isDictionary()) {
      if (h.hasKey("/Annots")) filter_annotations(h.getKey("/Annots"), place);
      for (const std::string& k : h.getKeys()) {
        if (check_entry(h, k, place)) continue;
        walk(h.getKey(k), place, depth + 1, queue, k);
      }
    }
  }

  QPDF& pdf_;
  std::map<QPDFObjGen, std::string> places_;
  std::set<QPDFObjGen> visited_;
  std::vector<std::string> found_;
  std::vector<std::string> removed_annotations_;
};

bool pdf_whitespace(char c) { return c == '\0' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '; }

// Bytes the object structure does not account for (§7.5.2, §7.5.5): before
// the header and after the last %%EOF, apart from end-of-line whitespace.
// Readers ignore them; another format's reader may not (a PDF/ZIP polyglot).
void report_outside_bytes(std::string_view bytes, std::vector<std::string>& found) {
  const std::size_t header = bytes.find("%PDF-");
  if (header != std::string_view::npos && header > 0) {
    found.push_back("data before %PDF- (" + std::to_string(header) + " bytes)");
  }
  const std::size_t eof = bytes.rfind("%%EOF");
  if (eof == std::string_view::npos) return;
  std::string_view tail = bytes.substr(eof + 5);
  while (!tail.empty() && pdf_whitespace(tail.back())) tail.remove_suffix(1);
  if (!tail.empty()) found.push_back("data after %%EOF (" + std::to_string(bytes.size() - eof - 5) + " bytes)");
}

crypto::Error pdf_error(const std::string& what) {
  // qpdf's messages start with the description and offset; neither helps
  // the officer, and a message from hostile bytes is kept short.
  return make_error(Errc::bad_format, "PDF: " + short_text(what, 160));
}

// Opens the bytes (kept alive by the caller) and runs the walk; the caller
// decides what to write. Exceptions are caught by the callers.
std::vector<std::string> open_and_disarm(QPDF& pdf, std::string_view bytes) {
  pdf.setSuppressWarnings(true);
  // A file encrypted with an empty user password opens like any other
  // (§7.6.3.1: readers try the empty password first); one that needs a
  // password throws qpdf_e_password.
  pdf.processMemoryFile("input", bytes.data(), bytes.size(), "");
  std::vector<std::string> found;
  report_outside_bytes(bytes, found);
  if (pdf.isEncrypted()) found.push_back("encryption (the file opened without a password)");
  for (std::string& line : ActiveContentWalk(pdf).run()) found.push_back(std::move(line));
  return found;
}

template <class T, class F>
crypto::Result<T> guarded(F&& body) {
  try {
    return body();
  } catch (const OutputTooLarge&) {
    return make_error(Errc::exhausted, "rebuilt PDF is over the output limit");
  } catch (const NestedTooDeep&) {
    return make_error(Errc::bad_format, "PDF: objects nested too deeply");
  } catch (const QPDFExc& e) {
    if (e.getErrorCode() == qpdf_e_password) return make_error(Errc::bad_format, "PDF needs a password");
    return pdf_error(e.getMessageDetail());
  } catch (const std::bad_alloc&) {
    return make_error(Errc::exhausted, "PDF: out of memory");
  } catch (const std::exception& e) {
    return pdf_error(e.what());
  }
}

}  // namespace

crypto::Result<Rebuilt> rebuild_pdf(std::string_view bytes, const Limits& limits) {
  return guarded<Rebuilt>([&]() -> crypto::Result<Rebuilt> {
    QPDF pdf;
    Rebuilt out;
    out.removed = open_and_disarm(pdf, bytes);
    BoundedOutput sink(out.bytes, limits.max_output);
    QPDFWriter writer(pdf);
    writer.setOutputPipeline(&sink);
    writer.setLinearization(false);
    writer.setPreserveEncryption(false);
    // Stream data is copied as it is (decrypted when the input was
    // encrypted): decoding it here would only give a compression bomb a
    // place to go off; the reader decodes it as it would have anyway.
    writer.setDecodeLevel(qpdf_dl_none);
    // Nor compressed anew: a stream crosses as it came (qpdf would deflate
    // every uncompressed stream, which costs three quarters of the rebuild
    // and changes nothing that matters here).
    writer.setCompressStreams(false);
    // The /ID does not depend on the clock: the same input, the same output.
    writer.setDeterministicID(true);
    writer.write();
    return out;
  });
}

crypto::Result<std::vector<std::string>> find_active_pdf(std::string_view bytes, const Limits&) {
  return guarded<std::vector<std::string>>([&]() -> crypto::Result<std::vector<std::string>> {
    QPDF pdf;
    return open_and_disarm(pdf, bytes);
  });
}

}  // namespace ferry::disarm

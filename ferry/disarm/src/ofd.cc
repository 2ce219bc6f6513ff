// OFD rebuild ([disarm] ofd): a GB/T 33190-2016 package rebuilt without
// what acts or carries other files.
//
//   actions      every Actions element, wherever it is (§14: the document's
//                own, a page's, a graphic unit's, an outline item's, an
//                annotation's): Goto, GotoA, URI, Sound and Movie run on
//                opening the document or a page, or on a click;
//   scripts      Script and JavaScript elements, and members with a script
//                extension (.js): readers that run them exist, the standard
//                has no place for them;
//   attachments  the document's Attachments (§20): the element in
//                Document.xml, the list it names, the files the list names,
//                and anything stored under an Attachs folder;
//   extensions   the document's Extensions (§17): the element, the list it
//                names and the files its ExtendData entries name. They are
//                data private to the application that wrote them, which no
//                reader needs to show the document and which ferry cannot
//                judge: what is not understood is not copied.
// Custom tags (§16, CustomTags) stay: they are the document's structured
// data (an e-invoice's fields), read, never run. Signatures stay; a page
// that lost its actions no longer matches its signature, which is what the
// receiver should see.
#include <map>
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

constexpr std::string_view kEntry = "OFD.xml";  // §7.4: the package's entry file

bool in_folder(std::string_view name, std::string_view folder) {
  const std::string low = lower(name);
  std::string_view rest = low;
  for (std::size_t slash = rest.find('/'); slash != std::string_view::npos; slash = rest.find('/')) {
    if (rest.substr(0, slash) == folder) return true;
    rest.remove_prefix(slash + 1);
  }
  return false;
}

// What the actions of one Actions element do: the kinds of their Action
// children's content (§14.1 Table 52: Goto, GotoA, URI, Sound, Movie).
std::string action_kinds(pugi::xml_node actions) {
  std::set<std::string> kinds;
  for (pugi::xml_node a = actions.first_child(); a; a = a.next_sibling()) {
    for (pugi::xml_node k = a.first_child(); k; k = k.next_sibling()) {
      if (k.type() == pugi::node_element) kinds.insert(for_line(package::local_name(k.name()), 20));
    }
  }
  std::string out;
  for (const std::string& k : kinds) out += (out.empty() ? "" : ", ") + k;
  return out;
}

class OfdDisarm {
 public:
  explicit OfdDisarm(const package::Package& pkg)
      : pkg_(pkg), dropped_(pkg.parts.size(), false), xml_(pkg.parts.size()), output_(pkg.parts.size()) {}

  crypto::Status run(bool rebuild) {
    rebuild_ = rebuild;
    if (pkg_.find(kEntry) == nullptr) return make_error(Errc::bad_format, "OFD package: no OFD.xml");
    for (const std::string& name : pkg_.others) findings.push_back("member " + for_line(name) + " (a link, not a part)");
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      if (!lower(pkg_.parts[i].name).ends_with(".xml")) continue;
      xml_[i].emplace();
      if (crypto::Status st = package::parse_xml(pkg_.parts[i], *xml_[i]); !st) return st;
    }
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      if (xml_[i] && package::local_name(xml_[i]->doc.document_element().name()) == "Document") documents_.insert(i);
    }
    for (std::size_t i : documents_) document(i);
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      const std::string& name = pkg_.parts[i].name;
      if (dropped_[i]) continue;
      if (lower(name).ends_with(".js")) drop(i, "script " + for_line(name));
      else if (in_folder(name, "attachs")) drop(i, "attachment " + for_line(name));
    }
    if (!problem_.empty()) return make_error(Errc::bad_format, "OFD package: " + problem_);
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      if (xml_[i] && !dropped_[i]) content(i);
    }
    return {};
  }

  std::vector<std::string> findings;

  // OFD.xml first (where readers and file(1) look), then input order.
  std::vector<const Part*> kept() const {
    std::vector<const Part*> out;
    const std::size_t entry = pkg_.index_of(kEntry);
    auto add = [&](std::size_t i) {
      if (!dropped_[i]) out.push_back(output_[i] ? &*output_[i] : &pkg_.parts[i]);
    };
    add(entry);
    for (std::size_t i = 0; i < pkg_.parts.size(); ++i) {
      if (i != entry) add(i);
    }
    return out;
  }

 private:
  void drop(std::size_t i, std::string finding) {
    if (own(i)) return;
    if (dropped_[i]) return;
    dropped_[i] = true;
    findings.push_back(std::move(finding));
  }

  // §7.5 locations inside the list named by the document, relative to the
  // list's own folder.
  void drop_listed(std::size_t list, std::string_view entry, std::string_view location, const std::string& what) {
    if (!xml_[list]) return;
    const pugi::xml_node root = xml_[list]->doc.document_element();
    for (pugi::xml_node e = root.first_child(); e; e = e.next_sibling()) {
      if (e.type() != pugi::node_element || package::local_name(e.name()) != entry) continue;
      for (pugi::xml_node c = e.first_child(); c; c = c.next_sibling()) {
        if (c.type() != pugi::node_element || package::local_name(c.name()) != location) continue;
        const std::size_t file = pkg_.index_of(package::resolve(pkg_.parts[list].name, c.text().get()));
        if (file != package::kNoPart) drop(file, what + " " + for_line(pkg_.parts[file].name));
      }
    }
  }

  // §7.5 Table 7: Document.xml's Attachments and Extensions each name a
  // list file; the element, the list and what the list names all go.
  void document(std::size_t i) {
    const pugi::xml_node root = xml_[i]->doc.document_element();
    const std::string& name = pkg_.parts[i].name;
    package::Edits edits;
    for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_element) continue;
      const std::string_view local = package::local_name(c.name());
      const bool attachments = local == "Attachments";
      if (!attachments && local != "Extensions") continue;
      edits.remove.push_back(c);
      const std::string where = package::resolve(name, c.text().get());
      findings.push_back(std::string(attachments ? "attachments list " : "extension data ") + for_line(where) +
                         " (named in " + for_line(name) + ")");
      const std::size_t list = where.empty() ? package::kNoPart : pkg_.index_of(where);
      if (list == package::kNoPart || own(list)) continue;
      dropped_[list] = true;
      if (attachments) drop_listed(list, "Attachment", "FileLoc", "attachment");
      else drop_listed(list, "Extension", "ExtendData", "extension data file");
    }
    if (edits.any()) {
      edits.apply();
      changed(i);
    }
  }

  void content(std::size_t i) {
    const std::string part = for_line(pkg_.parts[i].name);
    package::Edits edits;
    std::map<std::string, std::size_t> counts;
    std::vector<std::string> order;
    auto note = [&](std::string what) {
      if (counts[what]++ == 0) order.push_back(std::move(what));
    };
    package::walk_elements(xml_[i]->doc, [&](const Element& e) {
      if (e.depth == 1) return Walk::descend;
      if (e.local == "Actions") {
        const std::string kinds = action_kinds(e.node);
        note("actions in " + part + (kinds.empty() ? "" : " (" + kinds + ")"));
      } else if (e.local == "Action") {
        note("action in " + part);
      } else if (e.local == "Script" || e.local == "JavaScript") {
        note("script (" + std::string(e.local) + ") in " + part);
      } else {
        return Walk::descend;
      }
      edits.remove.push_back(e.node);
      return Walk::skip;
    });
    for (const std::string& what : order) {
      const std::size_t n = counts[what];
      findings.push_back(n == 1 ? what : what + ", " + std::to_string(n) + " times");
    }
    if (edits.any()) {
      edits.apply();
      changed(i);
    }
  }

  void changed(std::size_t i) {
    if (rebuild_) output_[i] = Part{pkg_.parts[i].name, package::serialise_xml(*xml_[i])};
  }

  // The entry file and the documents are what the package is: a list that
  // names one of them as an attachment or extension data is not a document
  // ferry can rebuild.
  bool own(std::size_t i) {
    if (i != pkg_.index_of(kEntry) && !documents_.count(i)) return false;
    if (problem_.empty()) {
      problem_ = "an attachment or extension list names the document's own " + for_line(pkg_.parts[i].name);
    }
    return true;
  }

  const package::Package& pkg_;
  bool rebuild_ = false;
  std::set<std::size_t> documents_;
  std::string problem_;
  std::vector<bool> dropped_;
  std::vector<std::optional<XmlPart>> xml_;
  std::vector<std::optional<Part>> output_;
};

}  // namespace

crypto::Result<Rebuilt> rebuild_ofd(std::string_view bytes, const Limits& limits) {
  return package::rebuild_with<OfdDisarm>(bytes, limits, "OFD package");
}

crypto::Result<std::vector<std::string>> find_active_ofd(std::string_view bytes, const Limits& limits) {
  return package::find_with<OfdDisarm>(bytes, limits, "OFD package");
}

}  // namespace ferry::disarm

// Internal to disarm: what the OOXML (ECMA-376 Part 2, Open Packaging
// Conventions) and OFD (GB/T 33190-2016) rebuilds share. A package is read
// whole into memory, member by member, under the part and package limits;
// the rebuild decides what to keep; the kept members are written into a new
// zip (libarchive, deflate), so nothing the old zip carried besides its
// members' bytes (comments, extra fields, gaps, data after the end record)
// crosses.
//
// XML parts are parsed with pugixml, which never reads a DTD or expands an
// entity it has not been told about; a part that declares a DOCTYPE at all
// is refused (OPC forbids DTDs, ECMA-376 Part 2 §8.1.4 M1.17, and a reader
// downstream might expand what ferry did not).
#pragma once

#include <pugixml.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "ferry/disarm/disarm.h"

namespace ferry::disarm::package {

struct Part {
  std::string name;  // as stored in the zip
  std::string data;  // inflated
};

inline constexpr std::size_t kNoPart = static_cast<std::size_t>(-1);

struct Package {
  std::vector<Part> parts;           // regular members, in central-directory order
  std::vector<std::string> others;   // names of members that are not regular files (links, devices)

  // The part called `name`, compared case-insensitively (OPC part names are,
  // ECMA-376 Part 2 §9.1.1.1; OFD names are never told apart by case either),
  // or nullptr.
  const Part* find(std::string_view name) const;
  std::size_t index_of(std::string_view name) const;  // kNoPart when absent

 private:
  friend crypto::Result<Package> read_package(std::string_view, const Limits&, std::string_view);
  std::map<std::string, std::size_t> by_lower_name_;
};

// Every member of the zip `bytes`, after ferry's own central-directory
// check (pipeline/zip.h) agrees it is a sound zip. Each member is held to
// limits.max_part while it inflates, all of them together to
// limits.max_package (exhausted). Encrypted members, two members whose names
// differ only in case, and an unreadable zip are bad_format; `what` names
// the package in messages ("OOXML package", "OFD package").
crypto::Result<Package> read_package(std::string_view bytes, const Limits& limits, std::string_view what);

// A new zip of `parts`, in that order, deflated, with a fixed time stamp and
// mode (the output depends on the content only). More than
// limits.max_output bytes is exhausted.
crypto::Result<std::string> write_package(const std::vector<const Part*>& parts, const Limits& limits);

// ---- XML ----

struct XmlPart {
  pugi::xml_document doc;
  pugi::xml_encoding encoding = pugi::encoding_utf8;  // as found, kept on output
};

// Parses `part`, keeping everything a faithful re-serialisation needs (the
// declaration, comments, processing instructions, white-space-only text).
// Not well-formed, or a DOCTYPE: bad_format naming the part.
crypto::Status parse_xml(const Part& part, XmlPart& out);

// The document written back, in the encoding it came in, declaration kept.
std::string serialise_xml(const XmlPart& xml);

std::string_view local_name(std::string_view qualified);
std::string lower(std::string_view s);

// A member name from a reference inside the package. OPC (ECMA-376 Part 2
// §9.3, relative references resolved per RFC 3986 §5.2 against the source
// part's name) and OFD (GB/T 33190-2016 §7.5: absolute from the package
// root when it starts with '/', otherwise relative to the folder of the
// file naming it) agree on this. `from` is the naming part ("" for the
// package root). Empty when the reference climbs out of the package.
std::string resolve(std::string_view from, std::string_view reference);

// A value from hostile input made fit for one line of a report: control
// characters become '?', and it is cut at `max` bytes.
std::string for_line(std::string_view value, std::size_t max = 160);

// ---- namespace-aware walk ----

struct Element;
enum class Walk { descend, skip };

// Namespaces in scope while walking (XML Namespaces 1.0 §6): prefixes are
// whatever the document binds, so elements are matched by namespace name
// and local name, never by prefix.
class NamespaceScope {
 public:
  // The namespace name `qualified` (an element or attribute name) is in.
  // Unprefixed attributes are in no namespace; unprefixed elements in the
  // default one.
  std::string_view element_namespace(std::string_view qualified) const;
  std::string_view attribute_namespace(std::string_view qualified) const;

 private:
  friend void walk_elements(const pugi::xml_document&, const std::function<Walk(const Element&)>&);
  std::string_view lookup(std::string_view prefix) const;
  std::map<std::string, std::vector<std::string_view>, std::less<>> bindings_;
};

struct Element {
  pugi::xml_node node;
  std::string_view ns;     // namespace name
  std::string_view local;  // local name
  std::size_t depth;       // 1 for the document element
  const NamespaceScope& scope;
};

// Calls visit for every element of `doc` in document order; `skip` leaves
// out the element's subtree. Iterative: depth costs no stack. The visitor
// may not change the document (collect changes, apply them afterwards).
void walk_elements(const pugi::xml_document& doc, const std::function<Walk(const Element&)>& visit);

// Changes collected during a walk, applied in an order that never touches a
// node after it is gone: emptied texts first, then unwrapped elements (their
// children move up, the nodes keep their identity), then removals in the
// order collected. A removal is only ever collected for an element whose
// subtree is not walked afterwards, or (an enclosing element) after every
// change inside it.
struct Edits {
  std::vector<pugi::xml_node> empty;   // drop the element's content
  std::vector<pugi::xml_node> unwrap;  // replace the element by its children
  std::vector<pugi::xml_node> remove;  // drop the element

  bool any() const { return !empty.empty() || !unwrap.empty() || !remove.empty(); }
  void apply();
};

// ---- the two entry points every package format has ----

// A disarm pass over a package: Disarm(Package&) reads it, run(bool modify)
// finds (and with modify, takes out) the active content into `findings`,
// kept() lists the parts to write.
template <class Disarm>
crypto::Result<Rebuilt> rebuild_with(std::string_view bytes, const Limits& limits, std::string_view what) {
  crypto::Result<Package> pkg = read_package(bytes, limits, what);
  if (!pkg) return pkg.error();
  Disarm disarm(*pkg);
  if (crypto::Status st = disarm.run(true); !st) return st.error();
  crypto::Result<std::string> zip = write_package(disarm.kept(), limits);
  if (!zip) return zip.error();
  return Rebuilt{std::move(*zip), std::move(disarm.findings)};
}

template <class Disarm>
crypto::Result<std::vector<std::string>> find_with(std::string_view bytes, const Limits& limits, std::string_view what) {
  crypto::Result<Package> pkg = read_package(bytes, limits, what);
  if (!pkg) return pkg.error();
  Disarm disarm(*pkg);
  if (crypto::Status st = disarm.run(false); !st) return st.error();
  return std::move(disarm.findings);
}

}  // namespace ferry::disarm::package

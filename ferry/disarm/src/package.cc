#include "ferry/disarm/src/package.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>

#include "ferry/pipeline/zip.h"

namespace ferry::disarm::package {

namespace {

using crypto::Errc;
using crypto::make_error;

std::string size_name(std::uint64_t bytes) {
  if (bytes % (std::uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (std::uint64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// Holds every regular member in memory, refusing a piece as soon as it
// would take a member past max_part or the package past max_package: the
// sizes the zip declares are not trusted.
class PackageSink final : public pipeline::ZipMemberSink {
 public:
  PackageSink(Package& package, const Limits& limits, std::string_view what)
      : package_(package), limits_(limits), what_(what) {}

  crypto::Result<bool> begin(const pipeline::ZipEntryInfo& entry) override {
    if (entry.encrypted) return make_error(Errc::bad_format, what_ + ": member " + for_line(entry.name) + " is encrypted");
    if (!entry.regular) {
      // A directory entry is only a name; a link or device is no part of any package.
      if (entry.name.empty() || entry.name.back() != '/') package_.others.push_back(entry.name);
      return false;
    }
    package_.parts.push_back(Part{entry.name, {}});
    return true;
  }

  crypto::Status data(std::string_view piece) override {
    Part& part = package_.parts.back();
    if (piece.size() > limits_.max_part - std::min<std::uint64_t>(limits_.max_part, part.data.size())) {
      return make_error(Errc::exhausted,
                        what_ + ": member " + for_line(part.name) + " expands beyond " + size_name(limits_.max_part));
    }
    total_ += piece.size();
    if (total_ > limits_.max_package) {
      return make_error(Errc::exhausted, what_ + ": the members expand beyond " + size_name(limits_.max_package));
    }
    part.data.append(piece);
    return {};
  }

  crypto::Status end() override { return {}; }

 private:
  Package& package_;
  const Limits& limits_;
  std::string what_;
  std::uint64_t total_ = 0;
};

struct OutputBuffer {
  std::string bytes;
  std::uint64_t max = 0;
  bool too_big = false;
};

// Past the limit the bytes are dropped, not refused: libarchive leaks its
// deflate state when a write fails mid-member, so the writer is let finish
// the member and stopped after it.
la_ssize_t append_output(struct archive*, void* client, const void* buffer, size_t length) {
  auto* out = static_cast<OutputBuffer*>(client);
  if (out->too_big || length > out->max - std::min<std::uint64_t>(out->max, out->bytes.size())) {
    out->too_big = true;
    out->bytes.clear();
    return static_cast<la_ssize_t>(length);
  }
  out->bytes.append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// pugixml frees a removed subtree recursively; the depth of what it is asked
// to keep is bounded so that no hostile nesting can exhaust the stack. No
// real document comes near (Word stops nesting tables at 63 levels).
constexpr std::size_t kMaxXmlDepth = 2048;

std::size_t element_depth(const pugi::xml_document& doc) {
  std::size_t depth = 1;
  std::size_t deepest = 0;
  pugi::xml_node n = doc.first_child();
  while (n) {
    deepest = std::max(deepest, depth);
    if (n.first_child()) {
      n = n.first_child();
      ++depth;
      continue;
    }
    while (!n.next_sibling()) {
      n = n.parent();
      --depth;
      if (!n || n == doc) return deepest;
    }
    n = n.next_sibling();
  }
  return deepest;
}

}  // namespace

const Part* Package::find(std::string_view name) const {
  const std::size_t i = index_of(name);
  return i == kNoPart ? nullptr : &parts[i];
}

std::size_t Package::index_of(std::string_view name) const {
  const auto it = by_lower_name_.find(lower(name));
  return it == by_lower_name_.end() ? kNoPart : it->second;
}

crypto::Result<Package> read_package(std::string_view bytes, const Limits& limits, std::string_view what) {
  // Ferry's own reader first: the type stage accepted the object by what it
  // says, and the rebuild must read the same members (zip.h, "two
  // independent means").
  crypto::Result<pipeline::ZipDirectory> directory = pipeline::read_zip_directory(bytes);
  if (!directory) return make_error(Errc::bad_format, std::string(what) + ": " + directory.error().message);
  Package package;
  PackageSink sink(package, limits, what);
  if (crypto::Status st = pipeline::read_members(bytes, sink); !st) {
    if (st.error().code == Errc::exhausted) return st.error();
    return make_error(Errc::bad_format, std::string(what) + ": " + st.error().message);
  }
  for (std::size_t i = 0; i < package.parts.size(); ++i) {
    // OPC §9.1.1.1 (M1.12): equivalent part names are an error; the reader
    // that picks the other one would see another document.
    if (!package.by_lower_name_.emplace(lower(package.parts[i].name), i).second) {
      return make_error(Errc::bad_format,
                        std::string(what) + ": two members named " + for_line(package.parts[i].name));
    }
  }
  return package;
}

crypto::Result<std::string> write_package(const std::vector<const Part*>& parts, const Limits& limits) {
  std::unique_ptr<struct archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
  if (!a) return make_error(Errc::internal, "libarchive: out of memory");
  auto failed = [&](const char* step) {
    const char* message = archive_error_string(a.get());
    return make_error(Errc::internal, std::string("libarchive: ") + step + ": " + (message ? message : "?"));
  };
  if (archive_write_set_format_zip(a.get()) != ARCHIVE_OK) return failed("zip format");
  if (archive_write_add_filter_none(a.get()) != ARCHIVE_OK) return failed("filter");
  // No blocking: the zip ends with its end record, without padding.
  if (archive_write_set_bytes_per_block(a.get(), 0) != ARCHIVE_OK) return failed("block size");
  if (archive_write_zip_set_compression_deflate(a.get()) != ARCHIVE_OK) return failed("deflate");
  OutputBuffer out;
  out.max = limits.max_output;
  if (archive_write_open(a.get(), &out, nullptr, append_output, nullptr) != ARCHIVE_OK) return failed("open");
  auto too_big = [&] {
    return make_error(Errc::exhausted, "the rebuilt package grows beyond " + size_name(limits.max_output));
  };
  for (const Part* part : parts) {
    std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
    if (!entry) return make_error(Errc::internal, "libarchive: out of memory");
    archive_entry_set_pathname(entry.get(), part->name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_mtime(entry.get(), 946684800, 0);  // 2000-01-01: the output depends on the content only
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(part->data.size()));
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) return failed("header");
    std::string_view rest = part->data;
    while (!rest.empty()) {
      const la_ssize_t n = archive_write_data(a.get(), rest.data(), rest.size());
      if (n <= 0) return failed("data");
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (out.too_big) break;
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return failed("close");
  if (out.too_big) return too_big();
  return std::move(out.bytes);
}

crypto::Status parse_xml(const Part& part, XmlPart& out) {
  // parse_doctype only to see a DOCTYPE and refuse it; parse_ws_pcdata keeps
  // text that is only white space (w:t xml:space="preserve" holding a
  // blank is part of the document).
  constexpr unsigned kFlags = pugi::parse_default | pugi::parse_declaration | pugi::parse_doctype | pugi::parse_pi |
                              pugi::parse_comments | pugi::parse_ws_pcdata;
  const pugi::xml_parse_result r = out.doc.load_buffer(part.data.data(), part.data.size(), kFlags);
  if (!r) {
    return make_error(Errc::bad_format, "part " + for_line(part.name) + " is not well-formed XML (" + r.description() +
                                            " at byte " + std::to_string(r.offset) + ")");
  }
  out.encoding = r.encoding;
  for (pugi::xml_node n = out.doc.first_child(); n; n = n.next_sibling()) {
    if (n.type() == pugi::node_doctype) {
      return make_error(Errc::bad_format, "part " + for_line(part.name) + " declares a DOCTYPE");
    }
  }
  if (element_depth(out.doc) > kMaxXmlDepth) {
    return make_error(Errc::bad_format,
                      "part " + for_line(part.name) + " nests deeper than " + std::to_string(kMaxXmlDepth) + " levels");
  }
  return {};
}

std::string serialise_xml(const XmlPart& xml) {
  struct StringWriter final : pugi::xml_writer {
    std::string bytes;
    void write(const void* data, size_t size) override { bytes.append(static_cast<const char*>(data), size); }
  } writer;
  // format_raw: no indentation is added; the declaration is the parsed one.
  unsigned flags = pugi::format_raw | pugi::format_no_declaration;
  if (xml.encoding != pugi::encoding_utf8) flags |= pugi::format_write_bom;
  xml.doc.save(writer, "", flags, xml.encoding);
  return std::move(writer.bytes);
}

std::string_view local_name(std::string_view qualified) {
  const std::size_t colon = qualified.find(':');
  return colon == std::string_view::npos ? qualified : qualified.substr(colon + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; });
  return out;
}

std::string resolve(std::string_view from, std::string_view reference) {
  std::vector<std::string_view> segments;
  if (!reference.empty() && reference.front() == '/') {
    reference.remove_prefix(1);
  } else {
    const std::size_t slash = from.rfind('/');
    std::string_view folder = slash == std::string_view::npos ? std::string_view() : from.substr(0, slash);
    while (!folder.empty()) {
      const std::size_t next = folder.find('/');
      segments.push_back(folder.substr(0, next));
      folder = next == std::string_view::npos ? std::string_view() : folder.substr(next + 1);
    }
  }
  while (!reference.empty()) {
    const std::size_t next = reference.find('/');
    const std::string_view segment = reference.substr(0, next);
    reference = next == std::string_view::npos ? std::string_view() : reference.substr(next + 1);
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (segments.empty()) return {};
      segments.pop_back();
      continue;
    }
    segments.push_back(segment);
  }
  std::string name;
  for (std::string_view s : segments) {
    if (!name.empty()) name += '/';
    name += s;
  }
  return name;
}

std::string for_line(std::string_view value, std::size_t max) {
  std::string out;
  for (char c : value.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7F ? '?' : c;
  }
  if (value.size() > max) out += "...";
  return out;
}

// ---- namespaces ----

std::string_view NamespaceScope::lookup(std::string_view prefix) const {
  // XML Namespaces 1.0 §3: the xml prefix is bound by definition.
  if (prefix == "xml") return "http://www.w3.org/XML/1998/namespace";
  const auto it = bindings_.find(prefix);
  return it == bindings_.end() || it->second.empty() ? std::string_view() : it->second.back();
}

std::string_view NamespaceScope::element_namespace(std::string_view qualified) const {
  const std::size_t colon = qualified.find(':');
  return lookup(colon == std::string_view::npos ? std::string_view() : qualified.substr(0, colon));
}

std::string_view NamespaceScope::attribute_namespace(std::string_view qualified) const {
  const std::size_t colon = qualified.find(':');
  return colon == std::string_view::npos ? std::string_view() : lookup(qualified.substr(0, colon));
}

void walk_elements(const pugi::xml_document& doc, const std::function<Walk(const Element&)>& visit) {
  NamespaceScope scope;
  std::vector<std::vector<std::string>> declared;  // per open element: the prefixes it binds
  auto enter = [&](pugi::xml_node n) {
    std::vector<std::string> prefixes;
    for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
      const std::string_view name = a.name();
      if (name != "xmlns" && !name.starts_with("xmlns:")) continue;
      std::string prefix(name == "xmlns" ? std::string_view() : name.substr(6));
      scope.bindings_[prefix].push_back(a.value());
      prefixes.push_back(std::move(prefix));
    }
    declared.push_back(std::move(prefixes));
  };
  auto leave = [&] {
    for (const std::string& prefix : declared.back()) {
      const auto it = scope.bindings_.find(prefix);
      it->second.pop_back();
    }
    declared.pop_back();
  };
  pugi::xml_node n = doc.first_child();
  while (n) {
    if (n.type() == pugi::node_element) {
      enter(n);
      const std::string_view name = n.name();
      const Element e{n, scope.element_namespace(name), local_name(name), declared.size(), scope};
      if (visit(e) == Walk::descend && n.first_child()) {
        n = n.first_child();
        continue;
      }
      leave();
    }
    while (!n.next_sibling()) {
      n = n.parent();
      if (!n || n == doc) return;
      leave();
    }
    n = n.next_sibling();
  }
}

void Edits::apply() {
  for (pugi::xml_node n : empty) {
    while (n.first_child()) n.remove_child(n.first_child());
  }
  for (pugi::xml_node n : unwrap) {
    pugi::xml_node parent = n.parent();
    while (pugi::xml_node child = n.first_child()) parent.insert_move_before(child, n);
    parent.remove_child(n);
  }
  for (pugi::xml_node n : remove) n.parent().remove_child(n);
  empty.clear();
  unwrap.clear();
  remove.clear();
}

}  // namespace ferry::disarm::package

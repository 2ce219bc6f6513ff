// OOXML (ECMA-376 Part 2, Open Packaging Conventions) and OFD (GB/T
// 33190-2016) packages are zip files of XML parts. Members are read from
// memory with libarchive, never extracted, and each read stops as soon as
// the member grows beyond max_part: the sizes a zip declares are not
// trusted.
#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "ferry/pipeline/src/xml_parts.h"

namespace ferry::pipeline::text_parts {

namespace {

using crypto::Errc;
using crypto::make_error;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

bool ends_with_xml(std::string_view name) { return name.size() >= 4 && lower(name.substr(name.size() - 4)) == ".xml"; }

constexpr std::string_view kContentTypes = "[Content_Types].xml";

struct Member {
  std::string name;
  std::string data;
};

// Calls visit(member) for every regular member whose name `wanted` accepts,
// in archive order.
template <class Wanted, class Visit>
crypto::Status read_members(std::string_view zip, const TextLimits& limits, Wanted wanted, Visit visit) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  if (!a) return make_error(Errc::internal, "libarchive: out of memory");
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), zip.data(), zip.size()) != ARCHIVE_OK) {
    return make_error(Errc::bad_format, std::string("not a readable zip package: ") + archive_error_string(a.get()));
  }
  std::uint64_t total = 0;
  std::vector<char> buffer(std::size_t{1} << 16);
  while (true) {
    struct archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) {
      return make_error(Errc::bad_format, std::string("not a readable zip package: ") + archive_error_string(a.get()));
    }
    const char* raw_name = archive_entry_pathname(entry);
    Member m{raw_name ? raw_name : "", {}};
    if (archive_entry_filetype(entry) != AE_IFREG || !wanted(m.name)) continue;
    if (archive_entry_is_encrypted(entry)) return make_error(Errc::bad_format, "part " + m.name + " is encrypted");
    while (true) {
      const la_ssize_t n = archive_read_data(a.get(), buffer.data(), buffer.size());
      if (n < 0) {
        return make_error(Errc::bad_format, "part " + m.name + " cannot be read: " + archive_error_string(a.get()));
      }
      if (n == 0) break;
      const auto got = static_cast<std::uint64_t>(n);
      if (got > limits.max_part - std::min<std::uint64_t>(limits.max_part, m.data.size())) {
        return make_error(Errc::exhausted, "part " + m.name + " expands beyond " + size_name(limits.max_part));
      }
      total += got;
      if (total > limits.max_package) {
        return make_error(Errc::exhausted, "the package's parts expand beyond " + size_name(limits.max_package));
      }
      m.data.append(buffer.data(), static_cast<std::size_t>(n));
    }
    if (crypto::Status st = visit(m); !st) return st;
  }
  return {};
}

crypto::Status part_text(const Member& m, TextOut& out) {
  pugi::xml_document doc;
  if (crypto::Status st = parse_xml(m.data, "part " + m.name, doc); !st) return st;
  if (crypto::Status st = package_part_text(doc, out); !st) return st;
  return out.end_line();
}

// GB/T 33190-2016 §7.5: a location is absolute from the package root when it
// starts with '/', otherwise relative to the folder of the file naming it.
// Locations that climb out of the package name nothing.
std::string resolve(std::string_view from_file, std::string_view loc) {
  std::vector<std::string> parts;
  std::string_view rest = loc;
  if (!rest.empty() && rest.front() == '/') {
    rest.remove_prefix(1);
  } else {
    std::string_view dir = from_file.substr(0, from_file.rfind('/') == std::string_view::npos ? 0 : from_file.rfind('/'));
    while (!dir.empty()) {
      const std::size_t slash = dir.find('/');
      parts.emplace_back(dir.substr(0, slash));
      dir = slash == std::string_view::npos ? std::string_view() : dir.substr(slash + 1);
    }
  }
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (parts.empty()) return {};
      parts.pop_back();
      continue;
    }
    parts.emplace_back(seg);
  }
  std::string path;
  for (const std::string& p : parts) path += (path.empty() ? "" : "/") + p;
  return path;
}

std::string child_text(pugi::xml_node parent, std::string_view local) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    const std::string_view name = c.name();
    const std::size_t colon = name.find(':');
    if ((colon == std::string_view::npos ? name : name.substr(colon + 1)) == local) return c.child_value();
  }
  return {};
}

std::vector<pugi::xml_node> children(pugi::xml_node parent, std::string_view local) {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    const std::string_view name = c.name();
    const std::size_t colon = name.find(':');
    if ((colon == std::string_view::npos ? name : name.substr(colon + 1)) == local) out.push_back(c);
  }
  return out;
}

// The page content files of the package in reading order, following
// OFD.xml -> DocBody/DocRoot -> Document.xml -> Pages/Page@BaseLoc. Links
// that lead nowhere are skipped: every member is read afterwards anyway.
std::vector<std::string> ofd_page_order(const std::map<std::string, std::size_t>& index,
                                        const std::vector<Member>& members) {
  std::vector<std::string> pages;
  auto load = [&](const std::string& name, pugi::xml_document& doc) {
    const auto it = index.find(name);
    return it != index.end() && parse_xml(members[it->second].data, name, doc).ok();
  };
  pugi::xml_document ofd;
  if (!load("OFD.xml", ofd)) return pages;
  for (pugi::xml_node body : children(ofd.document_element(), "DocBody")) {
    const std::string doc_name = resolve("OFD.xml", child_text(body, "DocRoot"));
    pugi::xml_document document;
    if (doc_name.empty() || !load(doc_name, document)) continue;
    for (pugi::xml_node list : children(document.document_element(), "Pages")) {
      for (pugi::xml_node page : children(list, "Page")) {
        const std::string page_name = resolve(doc_name, page.attribute("BaseLoc").value());
        if (!page_name.empty() && index.count(page_name)) pages.push_back(page_name);
      }
    }
  }
  return pages;
}

// ECMA-376 Part 2 §10.1.2: a part's content type is its Override, else the
// Default for its extension; part names compare case-insensitively. The
// names of the parts declared as XML (".../xml", "...+xml"), lower case: a
// main document may be stored under any name, as long as the package says
// what it is.
struct ContentTypes {
  std::set<std::string> xml_overrides;
  std::set<std::string> xml_extensions;

  bool is_xml(const std::string& name) const {
    const std::string n = lower(name);
    if (xml_overrides.count(n)) return true;
    const std::size_t dot = n.rfind('.');
    return dot != std::string::npos && n.find('/', dot) == std::string::npos && xml_extensions.count(n.substr(dot + 1));
  }
};

bool is_xml_content_type(std::string_view type) {
  const std::string t = lower(type.substr(0, type.find(';')));
  return t == "application/xml" || t == "text/xml" || (t.size() > 4 && t.substr(t.size() - 4) == "+xml");
}

crypto::Result<ContentTypes> read_content_types(std::string_view zip, const TextLimits& limits) {
  ContentTypes types;
  crypto::Status st = read_members(
      zip, limits, [](const std::string& name) { return name == kContentTypes; },
      [&](const Member& m) -> crypto::Status {
        pugi::xml_document doc;
        if (crypto::Status parsed = parse_xml(m.data, "part " + m.name, doc); !parsed) return parsed;
        for (pugi::xml_node n : doc.document_element().children()) {
          const std::string_view type = n.attribute("ContentType").value();
          if (!is_xml_content_type(type)) continue;
          if (std::string_view(n.name()) == "Override") {
            std::string_view part = n.attribute("PartName").value();
            if (!part.empty() && part.front() == '/') part.remove_prefix(1);
            types.xml_overrides.insert(lower(part));
          } else if (std::string_view(n.name()) == "Default") {
            types.xml_extensions.insert(lower(n.attribute("Extension").value()));
          }
        }
        return {};
      });
  if (!st) return st.error();
  return types;
}

}  // namespace

crypto::Result<std::string> ooxml_text(std::string_view zip, const TextLimits& limits) {
  crypto::Result<ContentTypes> types = read_content_types(zip, limits);
  if (!types) return types.error();
  TextOut out(limits.max_text);
  crypto::Status st = read_members(
      zip, limits,
      [&](const std::string& name) { return name != kContentTypes && (ends_with_xml(name) || types->is_xml(name)); },
      [&](const Member& m) { return part_text(m, out); });
  if (!st) return st.error();
  return out.take();
}

crypto::Result<std::string> ofd_text(std::string_view zip, const TextLimits& limits) {
  std::vector<Member> members;
  crypto::Status st = read_members(zip, limits, ends_with_xml, [&](const Member& m) -> crypto::Status {
    members.push_back(m);
    return {};
  });
  if (!st) return st.error();
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < members.size(); ++i) index.emplace(members[i].name, i);

  TextOut out(limits.max_text);
  std::set<std::size_t> done;
  for (const std::string& page : ofd_page_order(index, members)) {
    const std::size_t i = index.at(page);
    if (!done.insert(i).second) continue;
    if (crypto::Status s = part_text(members[i], out); !s) return s.error();
  }
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (done.count(i)) continue;
    if (crypto::Status s = part_text(members[i], out); !s) return s.error();
  }
  return out.take();
}

}  // namespace ferry::pipeline::text_parts

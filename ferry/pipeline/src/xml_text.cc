#include <array>
#include <cstring>

#include "ferry/pipeline/src/xml_parts.h"

namespace ferry::pipeline::text_parts {

namespace {

std::string_view local_name(const char* qualified) {
  const char* colon = std::strchr(qualified, ':');
  return colon ? colon + 1 : qualified;
}

template <std::size_t N>
bool is_one_of(std::string_view name, const std::array<std::string_view, N>& names) {
  for (std::string_view n : names) {
    if (n == name) return true;
  }
  return false;
}

// Depth-first over the whole tree without recursion (a hostile document may
// nest elements as deep as its size allows), calling enter(node) before a
// node's children and leave(node) after them.
template <class Enter, class Leave>
crypto::Status walk(pugi::xml_node root, Enter enter, Leave leave) {
  pugi::xml_node n = root.first_child();
  while (n) {
    if (crypto::Status st = enter(n); !st) return st;
    if (n.first_child()) {
      n = n.first_child();
      continue;
    }
    while (n != root) {
      if (crypto::Status st = leave(n); !st) return st;
      if (n.next_sibling()) {
        n = n.next_sibling();
        break;
      }
      n = n.parent();
    }
    if (n == root) break;
  }
  return {};
}

bool is_text(pugi::xml_node n) { return n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata; }

}  // namespace

crypto::Status parse_xml(std::string_view utf8, std::string_view what, pugi::xml_document& doc) {
  // parse_doctype keeps the DOCTYPE as a node so that its internal subset
  // can be checked; pugixml never reads or expands a DTD.
  const pugi::xml_parse_result r =
      doc.load_buffer(utf8.data(), utf8.size(), pugi::parse_default | pugi::parse_doctype, pugi::encoding_utf8);
  if (!r) {
    return crypto::make_error(crypto::Errc::bad_format, std::string(what) + ": not well-formed XML (" + r.description() +
                                                            " at byte " + std::to_string(r.offset) + ")");
  }
  for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling()) {
    // Any mention of ENTITY in the internal subset, so that odd spacing or
    // a parameter entity cannot slip a declaration past the check.
    if (n.type() == pugi::node_doctype && std::strstr(n.value(), "ENTITY") != nullptr) {
      return crypto::make_error(crypto::Errc::bad_format, std::string(what) + ": the DOCTYPE declares entities");
    }
  }
  return {};
}

crypto::Status all_xml_text(const pugi::xml_document& doc, TextOut& out) {
  return walk(
      doc,
      [&](pugi::xml_node n) -> crypto::Status {
        if (is_text(n)) return out.line(n.value());
        for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
          if (crypto::Status st = out.line(a.value()); !st) return st;
        }
        return {};
      },
      [](pugi::xml_node) -> crypto::Status { return {}; });
}

crypto::Status package_part_text(const pugi::xml_document& doc, TextOut& out) {
  static constexpr std::array<std::string_view, 4> kRuns = {"t", "delText", "instrText", "TextCode"};
  static constexpr std::array<std::string_view, 7> kBlocks = {"p", "si", "c", "tc", "TextObject", "br", "cr"};
  static constexpr std::array<std::string_view, 2> kAltText = {"descr", "title"};
  return walk(
      doc,
      [&](pugi::xml_node n) -> crypto::Status {
        if (is_text(n)) {
          if (crypto::Status st = out.append(n.value()); !st) return st;
          if (!is_one_of(local_name(n.parent().name()), kRuns)) return out.end_line();
          return {};
        }
        if (n.type() != pugi::node_element) return {};
        if (local_name(n.name()) == "tab") return out.append("\t");
        for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
          if (!is_one_of(local_name(a.name()), kAltText)) continue;
          if (crypto::Status st = out.end_line(); !st) return st;
          if (crypto::Status st = out.line(a.value()); !st) return st;
        }
        return {};
      },
      [&](pugi::xml_node n) -> crypto::Status {
        if (n.type() == pugi::node_element && is_one_of(local_name(n.name()), kBlocks)) return out.end_line();
        return {};
      });
}

crypto::Result<std::string> xml_text(std::string_view utf8, const TextLimits& limits) {
  pugi::xml_document doc;
  if (crypto::Status st = parse_xml(utf8, "XML", doc); !st) return st.error();
  TextOut out(limits.max_text);
  if (crypto::Status st = all_xml_text(doc, out); !st) return st.error();
  return out.take();
}

}  // namespace ferry::pipeline::text_parts

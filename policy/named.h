// Enum values by the names a document spells them with ("inbound", "docx"):
// one table per enum serves the loader, messages and to_string().
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace ferry::policy {

// A name a document may use for a value of an enum, and the value.
template <class E>
struct Named {
  std::string_view name;
  E value;
};

// The names of a table, "a, b, c", for hints.
template <class E>
std::string names_of(std::span<const Named<E>> table) {
  std::string out;
  for (const Named<E>& n : table) {
    if (!out.empty()) out += ", ";
    out += n.name;
  }
  return out;
}

template <class E>
std::string_view name_of(std::span<const Named<E>> table, E value) {
  for (const Named<E>& n : table) {
    if (n.value == value) return n.name;
  }
  return "?";
}

}  // namespace ferry::policy

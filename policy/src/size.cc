#include "policy/size.h"

#include <array>
#include <limits>
#include <utility>

namespace ferry::policy {
namespace {

using crypto::Errc;
using crypto::make_error;

constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kUnits = {{
    {"TiB", std::uint64_t{1} << 40},
    {"GiB", std::uint64_t{1} << 30},
    {"MiB", std::uint64_t{1} << 20},
    {"KiB", std::uint64_t{1} << 10},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

crypto::Result<std::uint64_t> parse_size(std::string_view text) {
  if (text.empty()) return make_error(Errc::invalid_argument, "empty size");
  if (text.front() == '-') return make_error(Errc::invalid_argument, "a size cannot be negative");
  if (!is_digit(text.front())) return make_error(Errc::invalid_argument, "a size starts with a number");
  std::size_t i = 0;
  std::uint64_t number = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (; i < text.size() && is_digit(text[i]); ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (number > (kMax - digit) / 10) return make_error(Errc::invalid_argument, "size is too large");
    number = number * 10 + digit;
  }
  const std::string_view unit = text.substr(i);
  if (unit.empty()) return number;
  if (unit.front() == '.' || unit.front() == ',') {
    return make_error(Errc::invalid_argument, "a size is a whole number (no fractions)");
  }
  if (unit.front() == ' ' || unit.front() == '\t') {
    return make_error(Errc::invalid_argument, "no space between the number and the unit");
  }
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    if (number > kMax / factor) return make_error(Errc::invalid_argument, "size is too large");
    return number * factor;
  }
  return make_error(Errc::invalid_argument,
                    "unknown unit '" + std::string(unit) + "' (units are KiB, MiB, GiB, TiB: powers of 1024)");
}

std::string format_size(std::uint64_t bytes) {
  if (bytes != 0) {
    for (const auto& [name, factor] : kUnits) {
      if (bytes % factor == 0) return std::to_string(bytes / factor) + std::string(name);
    }
  }
  return std::to_string(bytes);
}

}  // namespace ferry::policy

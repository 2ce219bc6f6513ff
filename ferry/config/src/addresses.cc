#include "ferry/config/src/addresses.h"

#include <algorithm>

namespace ferry::config::detail {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::optional<std::string> host_problem(std::string_view host) {
  if (host.empty()) return "the host is missing";
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']') return "an IPv6 address is written [ADDRESS]";
    const std::string_view inner = host.substr(1, host.size() - 2);
    const bool ok = std::all_of(inner.begin(), inner.end(), [](char c) { return is_hex(c) || c == ':' || c == '.'; });
    if (!ok || inner.find(':') == std::string_view::npos) return "malformed IPv6 address";
    return std::nullopt;
  }
  if (host.size() > 253) return "host name is too long";
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    const std::string_view label = host.substr(start, end - start);
    if (label.empty() || label.size() > 63) return "malformed host name";
    if (label.front() == '-' || label.back() == '-') return "malformed host name";
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; })) {
      return "malformed host name";
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> port_problem(std::string_view port) {
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "the port is a number from 0 to 65535";
  }
  if (std::stoul(std::string(port)) > 65535) return "the port is a number from 0 to 65535";
  return std::nullopt;
}

// HOST[:PORT], where HOST may be a bracketed IPv6 address.
std::optional<std::string> authority_problem(std::string_view text, bool port_required) {
  std::string_view host = text;
  std::string_view port;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return "an IPv6 address is written [ADDRESS]";
    host = text.substr(0, close + 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "expected ':PORT' after the address";
      port = rest.substr(1);
      has_port = true;
    }
  } else if (const std::size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    has_port = true;
  }
  if (auto p = host_problem(host)) return p;
  if (!has_port) {
    if (port_required) return "the port is missing";
    return std::nullopt;
  }
  return port_problem(port);
}

}  // namespace

std::optional<std::string> host_port_problem(std::string_view text) {
  return authority_problem(text, true);
}

std::optional<std::string> url_problem(std::string_view text, std::initializer_list<std::string_view> schemes,
                                       bool port_required) {
  const std::size_t sep = text.find("://");
  std::string expected;
  for (std::string_view s : schemes) expected += (expected.empty() ? "" : " or ") + std::string(s) + "://";
  if (sep == std::string_view::npos) return "expected a URL starting with " + expected;
  const std::string_view scheme = text.substr(0, sep);
  if (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end()) {
    return "unsupported scheme '" + std::string(scheme) + "'; expected " + expected;
  }
  const std::string_view rest = text.substr(sep + 3);
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) return "credentials do not belong in a URL in the config";
  if (auto p = authority_problem(authority, port_required)) return p;
  if (slash != std::string_view::npos) {
    for (char c : rest.substr(slash)) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f) return "the URL path must be printable ASCII without spaces";
    }
  }
  return std::nullopt;
}

}  // namespace ferry::config::detail

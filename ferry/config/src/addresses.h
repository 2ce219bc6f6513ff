// Network addresses a config names: "HOST:PORT" to listen on and URLs to
// forward or log to. Checked when the config is loaded so that a typo is a
// start-up message, not a bind() failure later.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::config::detail {

// "127.0.0.1:8443", "gateway.example:443", "[::1]:9750"; port 0..65535 (0:
// the kernel picks one, for tests). nullopt when fine, else what is wrong.
std::optional<std::string> host_port_problem(std::string_view text);

// SCHEME://HOST[:PORT][/PATH] with SCHEME among `schemes`; no credentials,
// no spaces. With `port_required`, the port must be given.
std::optional<std::string> url_problem(std::string_view text, std::initializer_list<std::string_view> schemes,
                                       bool port_required);

}  // namespace ferry::config::detail

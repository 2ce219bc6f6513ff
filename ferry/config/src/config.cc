#include "ferry/config/config.h"

namespace ferry::config {

Side sending_side(policy::Direction direction) {
  return direction == policy::Direction::inbound ? Side::outer : Side::inner;
}

std::string_view to_string(Side side) { return side == Side::outer ? "outer" : "inner"; }

std::string_view to_string(BindingRole role) {
  switch (role) {
    case BindingRole::source: return "source";
    case BindingRole::deliver: return "deliver";
    case BindingRole::listen: return "listen";
    case BindingRole::upstream: return "upstream";
  }
  return "?";
}

const Binding* Config::find(std::string_view channel) const {
  for (const Binding& b : channels) {
    if (b.channel == channel) return &b;
  }
  return nullptr;
}

bool Config::link_transport_available() const { return link.transport == LinkTransport::unix_socket; }

std::vector<std::string> Config::inactive_features() const {
  std::vector<std::string> out;
  for (const Binding& b : channels) {
    if (b.role == BindingRole::listen || b.role == BindingRole::upstream) {
      out.push_back("channel " + b.channel + " (" + std::string(to_string(b.role)) + " " + b.target +
                    (b.tls ? ", tls" : "") + "): parsed; request and message channels arrive later");
    }
  }
  if (!link_transport_available()) {
    out.push_back("link.transport pcap: parsed; not available yet, ferryd refuses to start with it");
  }
  return out;
}

}  // namespace ferry::config

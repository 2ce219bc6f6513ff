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
  // officers.secadmin is active: its keys verify the policy's signature.
  if (officers && (!officers->sysadmin.empty() || !officers->auditor.empty())) {
    out.push_back("officers.sysadmin and officers.auditor: parsed; their keys are not used yet (only "
                  "officers.secadmin's, which verify the policy signature)");
  }
  for (const Binding& b : channels) {
    if (b.role == BindingRole::listen || b.role == BindingRole::upstream) {
      out.push_back("channel " + b.channel + " (" + std::string(to_string(b.role)) + " " + b.target +
                    (b.tls ? ", tls" : "") + "): parsed; request and message channels arrive later");
    }
  }
  out.push_back("audit.retention_days (" + std::to_string(audit.retention.count()) + ") and audit.on_full (" +
                (audit.on_full == AuditOnFull::block ? "block" : "overwrite_oldest") +
                "): parsed; enforced once the audit trail is tamper-evident ([audit])");
  if (audit.syslog) out.push_back("audit.syslog (" + *audit.syslog + "): parsed; forwarding arrives with [audit]");
  if (metrics) out.push_back("metrics (" + metrics->listen + "): parsed; not served yet");
  if (!link_transport_available()) {
    out.push_back("link.transport pcap: parsed; not available yet, ferryd refuses to start with it");
  }
  return out;
}

}  // namespace ferry::config

// parse_syslog_target on arbitrary bytes: never crashes, and what it accepts
// reads back the same when written out again.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ferry/telemetry/syslog.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ferry::telemetry::SyslogTarget;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ferry::crypto::Result<SyslogTarget> t = ferry::telemetry::parse_syslog_target(text);
  if (!t) return 0;
  if (t->host.empty() || t->port == 0) std::abort();
  const bool v6 = t->host.find(':') != std::string::npos;
  const std::string again = std::string(t->transport == SyslogTarget::Transport::tcp ? "tcp://" : "udp://") +
                            (v6 ? "[" + t->host + "]" : t->host) + ":" + std::to_string(t->port);
  ferry::crypto::Result<SyslogTarget> u = ferry::telemetry::parse_syslog_target(again);
  if (!u || u->host != t->host || u->port != t->port || u->transport != t->transport) std::abort();
  return 0;
}

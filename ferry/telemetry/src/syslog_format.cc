// The syslog codec: target URLs, RFC 5424 messages, RFC 6587 framing.
#include <cassert>
#include <charconv>
#include <string>

#include "ferry/telemetry/syslog.h"

namespace ferry::telemetry {

namespace {

using crypto::Errc;
using crypto::make_error;

crypto::Error bad_target(std::string_view text, const std::string& what) {
  return make_error(Errc::invalid_argument, "syslog target \"" + std::string(text) + "\": " + what);
}

// RFC 5424 §6: HOSTNAME, APP-NAME, PROCID and MSGID are 1*N PRINTUSASCII
// (%d33-126); anything else is dropped, and an empty field is the NILVALUE.
std::string header_field(std::string_view value, std::size_t max_len) {
  std::string out;
  for (char c : value) {
    if (out.size() == max_len) break;
    if (c >= 33 && c <= 126) out += c;
  }
  return out.empty() ? std::string("-") : out;
}

// RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' MUST be escaped.
std::string param_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

std::string header_and_sd(const audit::Record& r, std::string_view hostname, std::string_view app_name, long procid,
                          std::size_t truncated_from) {
  const int pri = kSyslogFacility * 8 + syslog_severity(r.severity);
  // §6.2.3: the record's ts (2026-11-27T02:03:04.123Z) is a valid TIMESTAMP
  // as written; a record that passed parse_record always has one.
  const std::string timestamp = audit::parse_timestamp(r.ts) ? r.ts : std::string("-");
  std::string out = "<" + std::to_string(pri) + ">1 " + timestamp + " " + header_field(hostname, 255) + " " +
                    header_field(app_name, 48) + " " + header_field(std::to_string(procid), 128) + " " +
                    header_field(r.event, 32) + " [" + std::string(kStructuredDataId) +
                    " seq=\"" + std::to_string(r.seq) + "\" hash=\"" + param_value(r.hash) + "\" prev=\"" +
                    param_value(r.prev) + "\" side=\"" + param_value(r.side) + "\"";
  if (truncated_from != 0) out += " truncated=\"" + std::to_string(truncated_from) + "\"";
  out += "] ";
  return out;
}

// §6.4: a MSG starting with the BOM is UTF-8. Audit lines are: the record
// codec writes bytes that are not UTF-8 as \u00XX escapes.
constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

crypto::Result<SyslogTarget> parse_syslog_target(std::string_view text) {
  SyslogTarget t;
  std::string_view rest;
  if (text.starts_with("udp://")) {
    t.transport = SyslogTarget::Transport::udp;
    rest = text.substr(6);
  } else if (text.starts_with("tcp://")) {
    t.transport = SyslogTarget::Transport::tcp;
    rest = text.substr(6);
  } else {
    return bad_target(text, "must start with udp:// or tcp://");
  }
  std::string_view port_text;
  if (rest.starts_with("[")) {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad_target(text, "'[' without ']'");
    t.host = std::string(rest.substr(1, close - 1));
    if (t.host.empty() || t.host.find(':') == std::string::npos) {
      return bad_target(text, "brackets hold an IPv6 address");
    }
    rest = rest.substr(close + 1);
    if (!rest.starts_with(":")) return bad_target(text, "a port is required after ']' (\":6514\")");
    port_text = rest.substr(1);
  } else {
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad_target(text, "a port is required (host:port)");
    t.host = std::string(rest.substr(0, colon));
    if (t.host.find(':') != std::string::npos) {
      return bad_target(text, "an IPv6 address must be in brackets (tcp://[::1]:6514)");
    }
    port_text = rest.substr(colon + 1);
  }
  if (t.host.empty()) return bad_target(text, "the host is empty");
  for (char c : t.host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == ':' || c == '_' || c == '%';
    if (!ok) return bad_target(text, "the host has a character that is not in a name or address");
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size()) {
    return bad_target(text, "the port is not a number");
  }
  if (port == 0 || port > 65535) return bad_target(text, "the port must be 1 to 65535");
  t.port = static_cast<std::uint16_t>(port);
  return t;
}

int syslog_severity(std::string_view audit_severity) {
  // RFC 5424 §6.2.1 table 2.
  if (audit_severity == "error") return 3;
  if (audit_severity == "warning") return 4;
  if (audit_severity == "notice") return 5;
  if (audit_severity == "info") return 6;
  return 5;
}

std::string format_rfc5424(const audit::Record& record, std::string_view line, std::string_view hostname,
                           std::string_view app_name, long procid) {
  std::string out = header_and_sd(record, hostname, app_name, procid, 0);
  out += kBom;
  out += line;
  return out;
}

std::string format_rfc5424_datagram(const audit::Record& record, std::string_view line, std::string_view hostname,
                                    std::string_view app_name, long procid, std::size_t max_bytes) {
  std::string whole = format_rfc5424(record, line, hostname, app_name, procid);
  if (whole.size() <= max_bytes) return whole;
  std::string out = header_and_sd(record, hostname, app_name, procid, line.size());
  assert(out.size() + kBom.size() <= max_bytes && "the datagram limit must leave room for header and SD");
  std::size_t keep = max_bytes - out.size() - kBom.size();
  // Cut before a UTF-8 continuation byte (10xxxxxx) so the MSG stays valid
  // UTF-8, as §6.4 requires after a BOM.
  while (keep > 0 && keep < line.size() && (static_cast<unsigned char>(line[keep]) & 0xC0) == 0x80) --keep;
  out += kBom;
  out += line.substr(0, keep);
  return out;
}

std::string frame_octet_counted(std::string_view message) {
  return std::to_string(message.size()) + " " + std::string(message);
}

}  // namespace ferry::telemetry

// Export of the audit trail to a SIEM over syslog: RFC 5424 messages, over
// UDP (RFC 5426, one message per datagram) or TCP (RFC 6587 octet counting).
//
// The exporter only reads the audit directory (ferry/audit/segments.h); the
// log writes it. What it has handed to the target is remembered in
// DIR/export.cursor so that an outage of the SIEM or a restart of ferryd
// loses nothing.
//
// Delivery guarantee, and its limits:
//  - TCP: a record counts as exported once the receiver's TCP has
//    acknowledged every byte of its frame (SIOCOUTQ, the unacknowledged part
//    of the send queue, has drained past it). After a broken connection the
//    exporter reconnects (1 s doubling to 30 s) and resends from there; after
//    a restart it resends from the durable cursor, which is written at most
//    every second or every 1000 records, so a restart duplicates at most the
//    records exported since the last cursor write. A receiver whose kernel
//    acknowledged bytes its process then never read (it crashed) loses them:
//    RFC 6587 syslog has no application acknowledgement (RELP would).
//  - UDP: sent and forgotten (RFC 5426 §3.1 offers no more); a send error is
//    counted, not retried.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "ferry/audit/record.h"

namespace ferry::telemetry {

struct SyslogTarget {
  enum class Transport { udp, tcp };
  Transport transport = Transport::udp;
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
};

// "udp://127.0.0.1:5514", "tcp://[::1]:6514", "tcp://siem.example.gov.cn:6514".
// Errc::invalid_argument saying what is wrong.
crypto::Result<SyslogTarget> parse_syslog_target(std::string_view text);

// RFC 5424 §6.2.1 table 1: facility 13 is "log audit". We use it rather than
// 10 (authpriv) because these records are the appliance's audit trail (every
// object accepted, rejected, delivered, every admin action), not
// authentication messages; SIEM rules that route audit streams key on it.
inline constexpr int kSyslogFacility = 13;
// RFC 5612 §2: 32473 is the enterprise number reserved for documentation. A
// deployment with its own IANA private enterprise number should use it.
inline constexpr std::string_view kStructuredDataId = "ferry@32473";

// The RFC 5424 severity (§6.2.1 table 2) of an audit severity: info 6,
// notice 5, warning 4, error 3; anything else notice.
int syslog_severity(std::string_view audit_severity);

// One RFC 5424 message (§6):
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [ferry@32473 seq= hash= prev= side=] BOM line
// PRI = facility * 8 + severity; TIMESTAMP the record's ts; MSGID the event.
// HOSTNAME, APP-NAME and MSGID are cut to their §6.2 lengths (255, 48, 32)
// and to printable US-ASCII; an empty one is the NILVALUE "-".
std::string format_rfc5424(const audit::Record& record, std::string_view line, std::string_view hostname,
                           std::string_view app_name, long procid);

// The same message made to fit `max_bytes` (a datagram, RFC 5426 §3.2): when
// it does not, the MSG (the record line) is cut at a UTF-8 character
// boundary and the structured data gains truncated="<full line length>"; the
// header and structured data are never cut, so seq and hash always arrive.
// max_bytes must leave room for them (asserted: 512 is always enough).
std::string format_rfc5424_datagram(const audit::Record& record, std::string_view line, std::string_view hostname,
                                    std::string_view app_name, long procid, std::size_t max_bytes);

// RFC 6587 §3.4.1 octet counting: "MSG-LEN SP SYSLOG-MSG".
std::string frame_octet_counted(std::string_view message);

class SyslogExporter {
 public:
  struct Options {
    std::string hostname;  // HOSTNAME of every message; "-" when empty
    std::string app_name = "ferryd";
    long procid = 0;
    // RFC 5426 §3.2: every receiver SHOULD take 2048 octets; longer records
    // are truncated (format_rfc5424_datagram).
    std::size_t max_datagram = 2048;
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{30000};
    std::chrono::milliseconds cursor_interval{1000};
    std::uint64_t cursor_records = 1000;
    // How often the thread looks for new records when advance() is quiet.
    std::chrono::milliseconds poll_interval{200};
    std::chrono::milliseconds connect_timeout{5000};
  };

  struct Stats {
    std::uint64_t sent = 0;         // messages handed to the transport
    std::uint64_t send_errors = 0;  // failed connects and sends
    std::uint64_t skipped = 0;      // lines that are not records (parse_record failed)
    std::uint64_t truncated = 0;    // UDP messages whose MSG was cut
    bool connected = false;         // TCP: a connection is up; UDP: always true once resolved
    std::uint64_t reconnects = 0;   // TCP connections made after the first
    std::string last_error;
  };

  // Reads DIR/export.cursor (absent: start at the first record) and starts
  // the thread. If the record the cursor names turns out to have another
  // hash (the trail was replaced or altered), stats().last_error says so and
  // export goes on after it. Nothing is exported until advance() is called.
  // Errors: an unreadable (Errc::io) or malformed (Errc::bad_format) cursor,
  // naming the file: it is ours, so a bad one is reported, not guessed at.
  static crypto::Result<std::unique_ptr<SyslogExporter>> start(std::string audit_dir, SyslogTarget target,
                                                               Options options);

  ~SyslogExporter();
  SyslogExporter(const SyslogExporter&) = delete;
  SyslogExporter& operator=(const SyslogExporter&) = delete;

  // Records up to durable_seq are on disk for good and may leave the box.
  // Never lowers the limit.
  void advance(std::uint64_t durable_seq);
  // The last seq exported: over TCP, the last record whose frame the
  // receiver's TCP acknowledged on a connection that was up (stricter than
  // "written to the socket"); over UDP, the last one sent. Starts at the
  // cursor's seq. The log may drop segments whose records are all at or
  // below it.
  std::uint64_t exported_seq() const;
  Stats stats() const;
  // Writes the cursor and joins the thread; idempotent. Every wait of the
  // thread is cut into 100 ms slices, so this takes well under a second,
  // but for a host name whose DNS lookup hangs (use an address to avoid it).
  void stop();

 private:
  struct Impl;
  explicit SyslogExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::telemetry

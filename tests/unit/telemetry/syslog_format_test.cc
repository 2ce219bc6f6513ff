// The syslog codec against strings worked out by hand from RFC 5424,
// RFC 5426 and RFC 6587.
#include <gtest/gtest.h>

#include "ferry/telemetry/syslog.h"

namespace ferry::telemetry {
namespace {

const std::string kHash(64, 'a');
const std::string kPrev(64, 'b');
constexpr std::string_view kBom = "\xEF\xBB\xBF";

audit::Record record(std::uint64_t seq, std::string severity, std::string event, std::string side = "outer") {
  audit::Record r;
  r.seq = seq;
  r.ts = "2026-11-27T02:03:04.123Z";
  r.side = std::move(side);
  r.severity = std::move(severity);
  r.event = std::move(event);
  r.prev = kPrev;
  r.hash = kHash;
  return r;
}

TEST(SyslogFormat, WholeMessageMatchesRfc5424ByHand) {
  const std::string line = R"({"seq":42,"event":"object.rejected"})";
  // PRI: facility 13 (log audit) * 8 + severity 4 (warning) = 108.
  const std::string expected = "<108>1 2026-11-27T02:03:04.123Z gw-outer ferryd 4242 object.rejected "
                               "[ferry@32473 seq=\"42\" hash=\"" + kHash + "\" prev=\"" + kPrev +
                               "\" side=\"outer\"] " + std::string(kBom) + line;
  EXPECT_EQ(format_rfc5424(record(42, "warning", "object.rejected"), line, "gw-outer", "ferryd", 4242), expected);
}

TEST(SyslogFormat, PriorityIsFacilityTimesEightPlusSeverity) {
  // 13 * 8 = 104; RFC 5424 table 2: error 3, warning 4, notice 5, info 6.
  EXPECT_TRUE(format_rfc5424(record(1, "error", "e"), "x", "h", "a", 1).starts_with("<107>1 "));
  EXPECT_TRUE(format_rfc5424(record(1, "warning", "e"), "x", "h", "a", 1).starts_with("<108>1 "));
  EXPECT_TRUE(format_rfc5424(record(1, "notice", "e"), "x", "h", "a", 1).starts_with("<109>1 "));
  EXPECT_TRUE(format_rfc5424(record(1, "info", "e"), "x", "h", "a", 1).starts_with("<110>1 "));
  EXPECT_TRUE(format_rfc5424(record(1, "bogus", "e"), "x", "h", "a", 1).starts_with("<109>1 "));
}

TEST(SyslogFormat, StructuredDataEscapesQuoteBackslashAndBracket) {
  // RFC 5424 §6.3.3: '"' -> \", '\' -> \\, ']' -> \].
  const std::string m = format_rfc5424(record(7, "info", "e", R"(a"b\c]d)"), "x", "h", "a", 1);
  EXPECT_NE(m.find(R"( side="a\"b\\c\]d"])"), std::string::npos) << m;
}

TEST(SyslogFormat, HeaderFieldsAreCutToPrintableAsciiAndTheirLengths) {
  const std::string event = "object.an_event_name_longer_than_thirty_two";  // 43 characters
  const std::string m = format_rfc5424(record(1, "info", event), "x", "", "ferry d\x01", 77);
  // HOSTNAME empty -> NILVALUE; APP-NAME loses the space and the control byte;
  // MSGID is the first 32 characters (§6.2.7).
  EXPECT_TRUE(m.starts_with("<110>1 2026-11-27T02:03:04.123Z - ferryd 77 object.an_event_name_longer_than [")) << m;
}

TEST(SyslogFormat, OctetCountingCountsBytesNotCharacters) {
  EXPECT_EQ(frame_octet_counted("abc"), "3 abc");
  EXPECT_EQ(frame_octet_counted(std::string(kBom) + "\xE4\xB8\xAD"), "6 \xEF\xBB\xBF\xE4\xB8\xAD");  // BOM + 中
  EXPECT_EQ(frame_octet_counted(""), "0 ");
}

TEST(SyslogFormat, DatagramThatFitsIsTheWholeMessage) {
  const audit::Record r = record(5, "info", "e");
  EXPECT_EQ(format_rfc5424_datagram(r, "short", "h", "a", 1, 2048), format_rfc5424(r, "short", "h", "a", 1));
}

TEST(SyslogFormat, OverlongDatagramCutsTheMessageNeverTheStructuredData) {
  // 1000 times 中 (3 bytes each): the cut must fall between characters.
  std::string line;
  for (int i = 0; i < 1000; ++i) line += "\xE4\xB8\xAD";
  for (std::size_t limit : {std::size_t{600}, std::size_t{601}, std::size_t{602}, std::size_t{2048}}) {
    const std::string m = format_rfc5424_datagram(record(9, "info", "e"), line, "h", "a", 1, limit);
    ASSERT_LE(m.size(), limit);
    EXPECT_GE(m.size(), limit - 2);
    const std::string sd_end = " side=\"outer\" truncated=\"3000\"] ";
    const std::size_t msg = m.find(sd_end);
    ASSERT_NE(msg, std::string::npos) << m;
    EXPECT_NE(m.find("hash=\"" + kHash + "\""), std::string::npos);
    const std::string body = m.substr(msg + sd_end.size());
    ASSERT_TRUE(body.starts_with(kBom));
    EXPECT_EQ((body.size() - kBom.size()) % 3, 0u) << "cut inside a UTF-8 character at limit " << limit;
    EXPECT_EQ(body.substr(kBom.size()), line.substr(0, body.size() - kBom.size()));
  }
}

TEST(SyslogTarget, ParsesUdpTcpIpv6AndNames) {
  crypto::Result<SyslogTarget> t = parse_syslog_target("udp://127.0.0.1:5514");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->transport, SyslogTarget::Transport::udp);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 5514);
  t = parse_syslog_target("tcp://[::1]:6514");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->transport, SyslogTarget::Transport::tcp);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 6514);
  t = parse_syslog_target("tcp://siem.example.gov.cn:65535");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->host, "siem.example.gov.cn");
  EXPECT_EQ(t->port, 65535);
}

TEST(SyslogTarget, RefusesMalformedTargetsSayingWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {"tls://h:1", "udp:// or tcp://"},
      {"udp://h", "port is required"},
      {"udp://:514", "host is empty"},
      {"udp://h:0", "1 to 65535"},
      {"udp://h:65536", "1 to 65535"},
      {"udp://h:5x", "not a number"},
      {"udp://h:", "not a number"},
      {"tcp://::1:514", "brackets"},
      {"tcp://[::1:514", "without ']'"},
      {"tcp://[::1]", "port is required"},
      {"tcp://[host]:1", "IPv6"},
      {"tcp://h/x:1", "character"},
  };
  for (const auto& [text, why] : cases) {
    crypto::Result<SyslogTarget> t = parse_syslog_target(text);
    ASSERT_FALSE(t) << text;
    EXPECT_EQ(t.error().code, crypto::Errc::invalid_argument);
    EXPECT_NE(t.error().message.find(why), std::string::npos) << text << ": " << t.error().message;
  }
}

}  // namespace
}  // namespace ferry::telemetry

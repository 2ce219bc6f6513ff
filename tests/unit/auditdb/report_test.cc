// The assessment report: figures for a trail whose answers are known, and
// hostile text from records kept as text in the HTML and the JSON.
#include "ferry/auditdb/report.h"

#include <gtest/gtest.h>

#include "tests/unit/auditdb/trail_writer.h"

namespace ferry::auditdb {
namespace {

using test::TempDir;
using test::TrailWriter;

std::string oid(int n) {
  std::string s = std::to_string(n);
  return std::string(32 - s.size(), '0') + s;
}

// Two days, 2026-11-25 and 2026-11-26, with a record on each side of them
// that must not count.
void write_known_trail(TrailWriter& w) {
  w.add("2026-11-24T23:59:59.999Z", "object.accepted", {{"channel", "docs"}, {"object", oid(99)}, {"size", "999"}});
  w.add("2026-11-25T00:00:00.000Z", "object.ingested", {{"channel", "docs"}, {"object", oid(1)}, {"name", "a.pdf"}});
  w.add("2026-11-25T00:00:01.000Z", "object.accepted",
        {{"channel", "docs"}, {"object", oid(1)}, {"name", "a.pdf"}, {"size", "1000"}, {"verdict", "accepted"}});
  w.add("2026-11-25T00:00:02.000Z", "object.sent", {{"channel", "docs"}, {"object", oid(1)}, {"size", "1000"}});
  w.add("2026-11-25T08:00:00.000Z", "object.accepted", {{"channel", "mail"}, {"object", oid(2)}, {"size", "500"}});
  w.add("2026-11-25T09:00:00.000Z", "object.received", {{"channel", "docs"}, {"object", oid(3)}, {"size", "300"}});
  w.add("2026-11-25T09:00:01.000Z", "object.delivered", {{"channel", "docs"}, {"object", oid(3)}, {"size", "300"}});
  w.rotate();
  w.add("2026-11-26T01:00:00.000Z", "object.accepted",
        {{"channel", "docs"}, {"object", oid(4)}, {"size", "200"}, {"direction", "inbound"}});
  w.add("2026-11-26T02:00:00.000Z", "object.refused",
        {{"channel", "mail"}, {"object", oid(5)}, {"name", "m.docm"}, {"type", "docm"}, {"verdict", "rejected"},
         {"reason", "macro"}, {"reasons", "macro,keyword"}});
  w.add("2026-11-26T02:30:00.000Z", "object.quarantined",
        {{"channel", "mail"}, {"object", oid(6)}, {"type", "exe"}, {"reason", "av"}}, "warning");
  w.add("2026-11-26T03:00:00.000Z", "object.rejected",
        {{"channel", "docs"}, {"object", oid(7)}, {"type", "docm"}, {"reasons", "keyword"}, {"actor", "secadmin:ab12"}});
  w.add("2026-11-26T03:10:00.000Z", "object.approved", {{"channel", "docs"}, {"object", oid(8)}, {"actor", "secadmin:ab12"}});
  w.add("2026-11-26T03:20:00.000Z", "object.approved", {{"channel", "docs"}, {"object", oid(9)}, {"actor", "secadmin:cd34"}});
  w.add("2026-11-26T04:00:00.000Z", "link.down", {{"channel", "mail"}, {"detail", "peer reset"}}, "warning");
  w.add("2026-11-26T04:00:05.000Z", "link.up", {{"channel", "mail"}});
  w.add("2026-11-26T04:10:00.000Z", "link.handshake_failed", {{"channel", "mail"}, {"detail", "bad cert"}}, "error");
  w.add("2026-11-26T05:00:00.000Z", "policy.loaded",
        {{"serial", "7"}, {"signer", "policyadmin:ef56"}, {"actor", "sysadmin:0011"}});
  w.add("2026-11-26T06:00:00.000Z", "selftest.passed", {});
  w.add("2026-11-26T06:00:01.000Z", "selftest.failed", {{"detail", "SM4 known answer"}}, "error");
  w.add("2026-11-26T07:00:00.000Z", "something.new", {});
  w.add("2026-11-27T00:00:00.000Z", "object.refused", {{"channel", "mail"}, {"object", oid(98)}, {"reasons", "late"}});
}

ReportFigures figures_for(TempDir& dir, std::string_view from, std::string_view to) {
  crypto::Result<AuditIndex> index = AuditIndex::open(dir.path());
  EXPECT_TRUE(index.ok());
  EXPECT_TRUE(index->update().ok());
  crypto::Result<ReportFigures> f = compute_report(*index, from, to);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  return f.ok() ? *f : ReportFigures{};
}

TEST(AuditReport, FiguresOfAKnownTrail) {
  TempDir dir;
  TrailWriter w(dir.path());
  write_known_trail(w);
  const ReportFigures f = figures_for(dir, "2026-11-25", "2026-11-26");

  EXPECT_EQ(f.days, (std::vector<std::string>{"2026-11-25", "2026-11-26"}));
  EXPECT_EQ(f.sides, (std::vector<std::string>{"outer"}));
  EXPECT_EQ(f.records, 19u);

  ASSERT_EQ(f.volume.size(), 4u);
  auto expect_volume = [&](std::size_t i, const char* day, const char* channel, const char* dir_name,
                           std::uint64_t objects, std::uint64_t bytes) {
    EXPECT_EQ(f.volume[i].day, day);
    EXPECT_EQ(f.volume[i].channel, channel);
    EXPECT_EQ(f.volume[i].direction, dir_name);
    EXPECT_EQ(f.volume[i].objects, objects) << day << " " << channel << " " << dir_name;
    EXPECT_EQ(f.volume[i].bytes, bytes) << day << " " << channel << " " << dir_name;
  };
  // accepted then sent is one object out; received then delivered one in.
  expect_volume(0, "2026-11-25", "docs", "inbound", 1, 300);
  expect_volume(1, "2026-11-25", "docs", "outbound", 1, 1000);
  expect_volume(2, "2026-11-25", "mail", "outbound", 1, 500);
  expect_volume(3, "2026-11-26", "docs", "inbound", 1, 200);  // its `direction` field decides
  EXPECT_EQ(f.channels, (std::vector<std::string>{"docs", "mail"}));

  EXPECT_EQ(f.rejected_objects, 3u);
  ASSERT_EQ(f.rejection_reasons.size(), 3u);
  EXPECT_EQ(f.rejection_reasons[0].key, "keyword");
  EXPECT_EQ(f.rejection_reasons[0].count, 2u);
  EXPECT_EQ(f.rejection_reasons[1].key, "av");
  EXPECT_EQ(f.rejection_reasons[2].key, "macro");
  EXPECT_EQ(f.rejection_reasons[2].count, 1u);
  ASSERT_EQ(f.rejected_types.size(), 2u);
  EXPECT_EQ(f.rejected_types[0].key, "docm");
  EXPECT_EQ(f.rejected_types[0].count, 2u);
  ASSERT_EQ(f.rejections.size(), 3u);
  EXPECT_EQ(f.rejections[0].name, "m.docm");
  EXPECT_EQ(f.rejections[0].reasons, "macro,keyword");
  EXPECT_EQ(f.rejections[1].reasons, "av");

  ASSERT_EQ(f.approvals.size(), 2u);
  EXPECT_EQ(f.approvals[0].actor, "secadmin:ab12");
  EXPECT_EQ(f.approvals[0].approved, 1u);
  EXPECT_EQ(f.approvals[0].rejected, 1u);
  EXPECT_EQ(f.approvals[1].actor, "secadmin:cd34");
  EXPECT_EQ(f.approvals[1].approved, 1u);
  EXPECT_EQ(f.approvals[1].rejected, 0u);

  EXPECT_EQ(f.link_incidents_total, 2u) << "link.up is routine";
  ASSERT_EQ(f.link_incidents.size(), 2u);
  EXPECT_EQ(f.link_incidents[0].detail, "peer reset");
  EXPECT_EQ(f.link_incidents[1].event, "link.handshake_failed");

  ASSERT_EQ(f.policy_changes.size(), 1u);
  EXPECT_EQ(f.policy_changes[0].serial, "7");
  EXPECT_EQ(f.policy_changes[0].signer, "policyadmin:ef56");
  EXPECT_EQ(f.selftests_passed, 1u);
  EXPECT_EQ(f.selftests_failed, 1u);
  ASSERT_EQ(f.selftests.size(), 2u);
  EXPECT_EQ(f.selftests[1].detail, "SM4 known answer");

  bool unknown_counted = false;
  for (const Count& c : f.events) unknown_counted |= c.key == "something.new" && c.count == 1;
  EXPECT_TRUE(unknown_counted) << "unknown events are counted, not refused";
}

TEST(AuditReport, OneDayPeriod) {
  TempDir dir;
  TrailWriter w(dir.path());
  write_known_trail(w);
  const ReportFigures f = figures_for(dir, "2026-11-27", "2026-11-27");
  EXPECT_EQ(f.records, 1u);
  EXPECT_EQ(f.rejected_objects, 1u);
  EXPECT_TRUE(f.volume.empty());
}

TEST(AuditReport, BadPeriodsAreRefused) {
  TempDir dir;
  crypto::Result<AuditIndex> index = AuditIndex::open(dir.path());
  ASSERT_TRUE(index.ok());
  for (auto [from, to] : {std::pair{"2026-11-26", "2026-11-25"}, std::pair{"2026-11-31", "2026-12-01"},
                          std::pair{"yesterday", "2026-12-01"}, std::pair{"2000-01-01", "2026-12-01"}}) {
    crypto::Result<ReportFigures> f = compute_report(*index, from, to);
    ASSERT_FALSE(f.ok()) << from << " " << to;
    EXPECT_EQ(f.error().code, crypto::Errc::invalid_argument);
  }
}

TEST(AuditReport, HtmlShowsTheFiguresAndTheChainResult) {
  TempDir dir;
  TrailWriter w(dir.path());
  write_known_trail(w);
  const ReportFigures f = figures_for(dir, "2026-11-25", "2026-11-26");
  const std::string unverified = render_html(f, ChainCheck{});
  EXPECT_NE(unverified.find("not verified"), std::string::npos);
  ChainCheck bad{true, false, "chain broken at seq 12", "audit-…01.jsonl line 12: prev does not match"};
  const std::string html = render_html(f, bad);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("chain broken at seq 12"), std::string::npos);
  EXPECT_NE(html.find("prev does not match"), std::string::npos);
  EXPECT_NE(html.find("2026-11-25 to 2026-11-26"), std::string::npos);
  EXPECT_NE(html.find("policyadmin:ef56"), std::string::npos);
  EXPECT_NE(html.find("secadmin:cd34"), std::string::npos);
  EXPECT_NE(html.find("SM4 known answer"), std::string::npos);
  EXPECT_NE(html.find("m.docm"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg")) << "nothing loaded from outside";
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("fill=\"#1f77b4\""), std::string::npos) << "a volume bar";
  EXPECT_NE(html.find("fill=\"#d62728\""), std::string::npos) << "a reason bar";
}

TEST(AuditReport, HostileTextStaysText) {
  TempDir dir;
  TrailWriter w(dir.path());
  const std::string script = "<script>alert(1)</script>.pdf";
  const std::string svg = "\"><svg onload=alert(2)>.docx";
  w.add("2026-11-25T01:00:00.000Z", "object.refused",
        {{"channel", "<b>ch</b>"}, {"object", oid(1)}, {"name", script}, {"type", "<img src=x>"},
         {"reasons", "<i>r</i>,'q'"}, {"actor", "x\"><svg onload=alert(3)>"}});
  w.add("2026-11-25T01:00:01.000Z", "object.refused",
        {{"channel", "<b>ch</b>"}, {"object", oid(2)}, {"name", svg}, {"reasons", "bad\xff\x01"}});
  w.add("2026-11-25T01:00:02.000Z", "object.accepted", {{"channel", "<b>ch</b>"}, {"object", oid(3)}, {"size", "1"}});
  w.add("2026-11-25T01:00:03.000Z", "link.down", {{"channel", "m"}, {"detail", "</td></table><script>x</script>"}});
  w.add("2026-11-25T01:00:04.000Z", "policy.loaded", {{"serial", "<1>"}, {"signer", "&amp;"}});
  const ReportFigures f = figures_for(dir, "2026-11-25", "2026-11-25");
  ChainCheck chain{true, false, "<script>s</script>", "\"><svg onload=1>"};
  const std::string html = render_html(f, chain);

  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<svg onload"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
  EXPECT_EQ(html.find("</table><script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;.pdf"), std::string::npos);
  EXPECT_NE(html.find("&quot;&gt;&lt;svg onload=alert(2)&gt;.docx"), std::string::npos);
  EXPECT_NE(html.find("&amp;amp;"), std::string::npos);
  EXPECT_NE(html.find("&#39;q&#39;"), std::string::npos);
  EXPECT_EQ(html.find('\x01'), std::string::npos);
  EXPECT_EQ(html.find('\xff'), std::string::npos);
  // Exactly our two charts open an <svg element.
  std::size_t svgs = 0;
  for (std::size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++svgs;
  EXPECT_EQ(svgs, 2u);

  const std::string json = render_json(f, chain);
  EXPECT_NE(json.find("\"name\": \"\\\"><svg onload=alert(2)>.docx\""), std::string::npos) << json;
  EXPECT_EQ(json.find('\xff'), std::string::npos);
}

TEST(AuditReport, JsonCarriesTheSameFigures) {
  TempDir dir;
  TrailWriter w(dir.path());
  write_known_trail(w);
  const ReportFigures f = figures_for(dir, "2026-11-25", "2026-11-26");
  const std::string json = render_json(f, ChainCheck{});
  EXPECT_NE(json.find("\"records\": 19"), std::string::npos);
  EXPECT_NE(json.find("{\"day\": \"2026-11-25\", \"channel\": \"docs\", \"direction\": \"outbound\", "
                      "\"objects\": 1, \"bytes\": 1000}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("{\"key\": \"keyword\", \"count\": 2}"), std::string::npos);
  EXPECT_NE(json.find("\"chain\": {\"verified\": false, \"ok\": false, \"summary\": \"not verified\""),
            std::string::npos);
  EXPECT_NE(json.find("\"selftests_failed\": 1"), std::string::npos);
}

TEST(HtmlEscape, KeepsTextAndDefusesMarkup) {
  EXPECT_EQ(html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
  EXPECT_EQ(html_escape("报告.pdf"), "报告.pdf");
  EXPECT_EQ(html_escape("\x01x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(html_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "overlong '/'";
  EXPECT_EQ(html_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "a surrogate";
  EXPECT_EQ(html_escape("\xE6\x8A"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "cut short";
}

}  // namespace
}  // namespace ferry::auditdb

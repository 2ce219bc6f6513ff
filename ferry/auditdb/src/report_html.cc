// The report as one HTML page an assessor can open offline and print: CSS
// and SVG inline, no scripts, nothing loaded from anywhere. Every string
// that came from a record goes through html_escape, since file names and
// details are chosen by whoever sent the file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <map>

#include "ferry/auditdb/report.h"

namespace ferry::auditdb {

namespace {

// Channel colours in the volume chart (by sorted channel), and the one
// colour of the rejection-reason bars. Tests look for these exact colours
// in a rendering of the page.
constexpr const char* kChannelColours[] = {"#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd",
                                           "#8c564b", "#17becf", "#bcbd22", "#e377c2"};
constexpr const char* kReasonColour = "#d62728";
constexpr std::size_t kMaxReasonBars = 15;

std::string num(std::uint64_t n) {
  // Thousands separated by a thin space: figures assessors copy by eye.
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += "&#8201;";
    out += digits[i];
  }
  return out;
}

std::string bytes_text(std::uint64_t n) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  std::size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// The smallest 1, 2 or 5 times a power of ten at or above v: an axis maximum
// with round tick labels.
std::uint64_t nice_ceiling(std::uint64_t v) {
  if (v == 0) return 1;
  std::uint64_t p = 1;
  while (p * 10 <= v) p *= 10;
  for (std::uint64_t m : {1, 2, 5, 10}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

std::string colour_of(std::size_t channel_index) {
  return kChannelColours[channel_index % std::size(kChannelColours)];
}

// Stacked bars: objects per day, one colour per channel, both directions.
std::string volume_chart(const ReportFigures& f) {
  std::map<std::string, std::size_t> day_at;
  for (std::size_t i = 0; i < f.days.size(); ++i) day_at[f.days[i]] = i;
  std::map<std::string, std::size_t> channel_at;
  for (std::size_t i = 0; i < f.channels.size(); ++i) channel_at[f.channels[i]] = i;
  std::vector<std::vector<std::uint64_t>> per(f.days.size(), std::vector<std::uint64_t>(f.channels.size(), 0));
  for (const DayVolume& v : f.volume) per[day_at.at(v.day)][channel_at.at(v.channel)] += v.objects;
  std::uint64_t peak = 0;
  for (const auto& day : per) {
    std::uint64_t total = 0;
    for (std::uint64_t n : day) total += n;
    peak = std::max(peak, total);
  }
  const std::uint64_t top = nice_ceiling(peak);

  constexpr double kW = 1000, kH = 340, kLeft = 70, kRight = 20, kTop = 20, kBottom = 60;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  const double slot = pw / static_cast<double>(std::max<std::size_t>(f.days.size(), 1));
  const double bar = std::max(1.0, slot * 0.8);
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt(kW) + "\" height=\"" + fmt(kH) +
                  "\" viewBox=\"0 0 " + fmt(kW) + " " + fmt(kH) +
                  "\" role=\"img\" aria-label=\"Objects per day and channel\" shape-rendering=\"crispEdges\">\n";
  for (int t = 0; t <= 4; ++t) {
    const double y = kTop + ph - ph * t / 4.0;
    s += "<line x1=\"" + fmt(kLeft) + "\" y1=\"" + fmt(y) + "\" x2=\"" + fmt(kW - kRight) + "\" y2=\"" + fmt(y) +
         "\" stroke=\"#dddddd\"/>";
    s += "<text x=\"" + fmt(kLeft - 6) + "\" y=\"" + fmt(y + 4) + "\" text-anchor=\"end\" class=\"tick\">" +
         num(top * static_cast<std::uint64_t>(t) / 4) + "</text>\n";
  }
  for (std::size_t d = 0; d < per.size(); ++d) {
    double y = kTop + ph;
    const double x = kLeft + slot * static_cast<double>(d) + (slot - bar) / 2;
    for (std::size_t c = 0; c < per[d].size(); ++c) {
      if (per[d][c] == 0) continue;
      const double h = ph * static_cast<double>(per[d][c]) / static_cast<double>(top);
      y -= h;
      s += "<rect x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" width=\"" + fmt(bar) + "\" height=\"" + fmt(h) +
           "\" fill=\"" + colour_of(c) + "\"><title>" + html_escape(f.days[d]) + " " + html_escape(f.channels[c]) +
           ": " + std::to_string(per[d][c]) + "</title></rect>";
    }
    s += "\n";
  }
  // Day labels, thinned to about a dozen so they never overlap.
  const std::size_t every = std::max<std::size_t>(1, (f.days.size() + 11) / 12);
  for (std::size_t d = 0; d < f.days.size(); d += every) {
    const double x = kLeft + slot * (static_cast<double>(d) + 0.5);
    s += "<text x=\"" + fmt(x) + "\" y=\"" + fmt(kTop + ph + 16) + "\" text-anchor=\"middle\" class=\"tick\">" +
         html_escape(f.days[d].substr(5)) + "</text>";
  }
  s += "<line x1=\"" + fmt(kLeft) + "\" y1=\"" + fmt(kTop + ph) + "\" x2=\"" + fmt(kW - kRight) + "\" y2=\"" +
       fmt(kTop + ph) + "\" stroke=\"#333333\"/>";
  s += "<line x1=\"" + fmt(kLeft) + "\" y1=\"" + fmt(kTop) + "\" x2=\"" + fmt(kLeft) + "\" y2=\"" + fmt(kTop + ph) +
       "\" stroke=\"#333333\"/>";
  s += "<text x=\"16\" y=\"" + fmt(kTop + ph / 2) + "\" transform=\"rotate(-90 16 " + fmt(kTop + ph / 2) +
       ")\" text-anchor=\"middle\" class=\"axis\">objects per day</text>";
  s += "<text x=\"" + fmt(kLeft + pw / 2) + "\" y=\"" + fmt(kH - 24) +
       "\" text-anchor=\"middle\" class=\"axis\">day (UTC, month-day)</text>\n";
  double lx = kLeft;
  for (std::size_t c = 0; c < f.channels.size(); ++c) {
    s += "<rect x=\"" + fmt(lx) + "\" y=\"" + fmt(kH - 14) + "\" width=\"10\" height=\"10\" fill=\"" + colour_of(c) +
         "\"/><text x=\"" + fmt(lx + 14) + "\" y=\"" + fmt(kH - 5) + "\" class=\"tick\">" +
         html_escape(f.channels[c]) + "</text>";
    lx += 24 + 7.0 * static_cast<double>(std::min<std::size_t>(f.channels[c].size(), 40));
  }
  s += "\n</svg>\n";
  return s;
}

// Horizontal bars: rejections per reason code, most first.
std::string reasons_chart(const ReportFigures& f) {
  const std::size_t n = std::min(f.rejection_reasons.size(), kMaxReasonBars);
  const std::uint64_t top = nice_ceiling(n == 0 ? 0 : f.rejection_reasons[0].count);
  constexpr double kW = 1000, kLeft = 260, kRight = 80, kTop = 10, kRow = 24, kBottom = 40;
  const double kH = kTop + kRow * static_cast<double>(std::max<std::size_t>(n, 1)) + kBottom;
  const double pw = kW - kLeft - kRight;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt(kW) + "\" height=\"" + fmt(kH) +
                  "\" viewBox=\"0 0 " + fmt(kW) + " " + fmt(kH) +
                  "\" role=\"img\" aria-label=\"Rejections by reason\" shape-rendering=\"crispEdges\">\n";
  const double base = kTop + kRow * static_cast<double>(std::max<std::size_t>(n, 1));
  for (int t = 0; t <= 4; ++t) {
    const double x = kLeft + pw * t / 4.0;
    s += "<line x1=\"" + fmt(x) + "\" y1=\"" + fmt(kTop) + "\" x2=\"" + fmt(x) + "\" y2=\"" + fmt(base) +
         "\" stroke=\"#dddddd\"/><text x=\"" + fmt(x) + "\" y=\"" + fmt(base + 16) +
         "\" text-anchor=\"middle\" class=\"tick\">" + num(top * static_cast<std::uint64_t>(t) / 4) + "</text>";
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Count& c = f.rejection_reasons[i];
    const double y = kTop + kRow * static_cast<double>(i);
    const double w = pw * static_cast<double>(c.count) / static_cast<double>(top);
    std::string label = c.key.size() > 40 ? c.key.substr(0, 40) + "..." : c.key;
    s += "\n<text x=\"" + fmt(kLeft - 8) + "\" y=\"" + fmt(y + 16) + "\" text-anchor=\"end\" class=\"tick\">" +
         html_escape(label) + "</text>";
    s += "<rect x=\"" + fmt(kLeft) + "\" y=\"" + fmt(y + 4) + "\" width=\"" + fmt(std::max(w, 1.0)) +
         "\" height=\"" + fmt(kRow - 8) + "\" fill=\"" + kReasonColour + "\"/>";
    s += "<text x=\"" + fmt(kLeft + w + 6) + "\" y=\"" + fmt(y + 16) + "\" class=\"tick\">" + num(c.count) +
         "</text>";
  }
  if (n == 0) {
    s += "<text x=\"" + fmt(kLeft + 8) + "\" y=\"" + fmt(kTop + 16) + "\" class=\"tick\">no rejections</text>";
  }
  s += "<line x1=\"" + fmt(kLeft) + "\" y1=\"" + fmt(kTop) + "\" x2=\"" + fmt(kLeft) + "\" y2=\"" + fmt(base) +
       "\" stroke=\"#333333\"/>";
  s += "<text x=\"" + fmt(kLeft + pw / 2) + "\" y=\"" + fmt(base + 34) +
       "\" text-anchor=\"middle\" class=\"axis\">rejected objects</text>\n</svg>\n";
  return s;
}

// A table of listed records with the columns named; ids in monospace.
struct Column {
  const char* header;
  std::string Happening::*member;
  bool id = false;
};

std::string happening_table(const std::vector<Happening>& list, std::uint64_t total,
                            std::initializer_list<Column> columns) {
  if (list.empty()) return "<p class=\"none\">None in this period.</p>\n";
  std::string s = "<table><tr><th>seq</th><th>time (UTC)</th><th>event</th>";
  for (const Column& c : columns) s += "<th>" + std::string(c.header) + "</th>";
  s += "</tr>\n";
  for (const Happening& h : list) {
    s += "<tr><td class=\"n\">" + std::to_string(h.seq) + "</td><td>" + html_escape(h.ts) + "</td><td>" +
         html_escape(h.event) + "</td>";
    for (const Column& c : columns) {
      s += (c.id ? "<td class=\"id\">" : "<td>") + html_escape(h.*c.member) + "</td>";
    }
    s += "</tr>\n";
  }
  s += "</table>\n";
  if (total > list.size()) {
    s += "<p class=\"none\">" + num(total - list.size()) + " more not listed (" + num(total) +
         " in all); <code>ferryctl audit query</code> lists every one.</p>\n";
  }
  return s;
}

std::string count_table(const std::vector<Count>& list, const char* what, std::size_t limit) {
  if (list.empty()) return "<p class=\"none\">None in this period.</p>\n";
  std::string s = "<table><tr><th>" + std::string(what) + "</th><th>count</th></tr>\n";
  for (std::size_t i = 0; i < list.size() && i < limit; ++i) {
    s += "<tr><td>" + html_escape(list[i].key) + "</td><td class=\"n\">" + num(list[i].count) + "</td></tr>\n";
  }
  s += "</table>\n";
  if (list.size() > limit) s += "<p class=\"none\">" + num(list.size() - limit) + " more not listed.</p>\n";
  return s;
}

constexpr char kStyle[] =
    "body{font-family:'Noto Sans CJK SC','Source Han Sans SC',sans-serif;margin:2em auto;max-width:1040px;"
    "color:#222;background:#fff}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;"
    "vertical-align:top}th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.id{font-family:monospace;font-size:.9em;word-break:break-all}.none{color:#666}"
    ".ok{color:#1a7f37;font-weight:bold}.bad{color:#b00020;font-weight:bold}.warn{color:#8a6d00;font-weight:bold}"
    "svg .tick{font-size:11px;fill:#333}svg .axis{font-size:12px;fill:#333}"
    ".meta{color:#555}";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out += "\xEF\xBF\xBD";
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (RFC 3629 §4) passes; anything else
    // becomes one U+FFFD per byte.
    std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (c >= 0xF5) len = 0;
    bool good = len > 0 && i + len <= text.size();
    for (std::size_t k = 1; good && k < len; ++k) {
      good = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (good && len >= 3) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
          (c == 0xF4 && c1 > 0x8F)) {
        good = false;  // overlong, surrogate or beyond U+10FFFF
      }
    }
    if (!good) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

std::string render_html(const ReportFigures& f, const ChainCheck& chain) {
  std::uint64_t out_objects = 0, out_bytes = 0, in_objects = 0, in_bytes = 0, other_objects = 0;
  std::map<std::pair<std::string, std::string>, std::pair<std::uint64_t, std::uint64_t>> per_channel;
  for (const DayVolume& v : f.volume) {
    if (v.direction == "outbound") {
      out_objects += v.objects;
      out_bytes += v.bytes;
    } else if (v.direction == "inbound") {
      in_objects += v.objects;
      in_bytes += v.bytes;
    } else {
      other_objects += v.objects;
    }
    auto& pc = per_channel[{v.channel, v.direction}];
    pc.first += v.objects;
    pc.second += v.bytes;
  }
  std::uint64_t approved = 0, rejected = 0;
  for (const Approvals& a : f.approvals) {
    approved += a.approved;
    rejected += a.rejected;
  }
  std::string sides;
  for (const std::string& s : f.sides) sides += (sides.empty() ? "" : ", ") + html_escape(s);
  if (sides.empty()) sides = "(no records)";
  const std::string period = html_escape(f.from_day) + " to " + html_escape(f.to_day) + " (UTC, " +
                             std::to_string(f.days.size()) + (f.days.size() == 1 ? " day)" : " days)");
  const char* chain_class = !chain.verified ? "warn" : chain.ok ? "ok" : "bad";

  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n"
      "<title>Ferry audit report " + html_escape(f.from_day) + " to " + html_escape(f.to_day) + "</title>\n<style>" +
      kStyle + "</style></head><body>\n";
  h += "<h1>Ferry cross-domain exchange: audit report (审计报告)</h1>\n";
  h += "<p class=\"meta\">Period " + period + " &middot; side " + sides + "</p>\n";

  h += "<h2>Summary</h2>\n<table>\n";
  auto row = [&](const std::string& k, const std::string& v) { h += "<tr><th>" + k + "</th><td>" + v + "</td></tr>\n"; };
  row("Audit chain", "<span class=\"" + std::string(chain_class) + "\">" + html_escape(chain.summary) + "</span>" +
                         (chain.first_problem.empty() ? "" : "<br>first problem: " + html_escape(chain.first_problem)));
  row("Records in period", num(f.records));
  row("Objects outbound", num(out_objects) + " (" + bytes_text(out_bytes) + ")");
  row("Objects inbound", num(in_objects) + " (" + bytes_text(in_bytes) + ")");
  if (other_objects > 0) row("Objects, other direction", num(other_objects));
  row("Objects refused, quarantined or rejected", num(f.rejected_objects));
  row("Officer decisions", num(approved) + " approved, " + num(rejected) + " rejected");
  row("Link incidents", num(f.link_incidents_total));
  row("Policy changes", num(f.policy_changes_total));
  row("Self-tests", num(f.selftests_passed) + " passed, " +
                        (f.selftests_failed > 0 ? "<span class=\"bad\">" + num(f.selftests_failed) + " failed</span>"
                                                : std::string("0 failed")));
  h += "</table>\n";
  h += "<p class=\"meta\">The chain line is the result of verifying the records' SM3 hash chain; the figures below "
       "are counted from the records. An object counts once per direction, on the day of its first "
       "<code>object.accepted</code> or <code>object.sent</code> record (outbound) or <code>object.received</code> or "
       "<code>object.delivered</code> record (inbound); a record's own <code>direction</code> field decides instead "
       "when present. Bytes are that record's <code>size</code>.</p>\n";

  h += "<h2>Volume per day and channel</h2>\n" + volume_chart(f);
  h += "<h3>Per channel and direction</h3>\n";
  if (per_channel.empty()) {
    h += "<p class=\"none\">No objects crossed in this period.</p>\n";
  } else {
    h += "<table><tr><th>channel</th><th>direction</th><th>objects</th><th>bytes</th></tr>\n";
    for (const auto& [key, v] : per_channel) {
      h += "<tr><td>" + html_escape(key.first) + "</td><td>" + html_escape(key.second) + "</td><td class=\"n\">" +
           num(v.first) + "</td><td class=\"n\">" + bytes_text(v.second) + "</td></tr>\n";
    }
    h += "</table>\n";
    h += "<details><summary>Per day</summary>\n<table><tr><th>day</th><th>channel</th><th>direction</th>"
         "<th>objects</th><th>bytes</th></tr>\n";
    for (const DayVolume& v : f.volume) {
      h += "<tr><td>" + html_escape(v.day) + "</td><td>" + html_escape(v.channel) + "</td><td>" +
           html_escape(v.direction) + "</td><td class=\"n\">" + num(v.objects) + "</td><td class=\"n\">" +
           num(v.bytes) + "</td></tr>\n";
    }
    h += "</table></details>\n";
  }

  h += "<h2>Rejections by reason</h2>\n<p class=\"meta\">Records <code>object.refused</code>, "
       "<code>object.quarantined</code> and <code>object.rejected</code>; each code in a record's "
       "<code>reasons</code> counts once.</p>\n" +
       reasons_chart(f) + count_table(f.rejection_reasons, "reason code", kMaxListed);
  h += "<h3>Rejected objects</h3>\n" +
       happening_table(f.rejections, f.rejected_objects,
                       {{"channel", &Happening::channel}, {"file name", &Happening::name},
                        {"type", &Happening::type}, {"reasons", &Happening::reasons},
                        {"officer", &Happening::actor, true}});
  h += "<h2>Rejected file types</h2>\n" + count_table(f.rejected_types, "detected type", 20);

  h += "<h2>Approvals (审批)</h2>\n";
  if (f.approvals.empty()) {
    h += "<p class=\"none\">No officer decisions in this period.</p>\n";
  } else {
    h += "<table><tr><th>officer (role:key fingerprint)</th><th>approved</th><th>rejected</th></tr>\n";
    // Most decisions first; a trail with more actors than a page can hold
    // is itself worth a look, so the cut is said.
    std::vector<const Approvals*> by_count;
    for (const Approvals& a : f.approvals) by_count.push_back(&a);
    std::stable_sort(by_count.begin(), by_count.end(), [](const Approvals* a, const Approvals* b) {
      return a->approved + a->rejected > b->approved + b->rejected;
    });
    for (std::size_t i = 0; i < by_count.size() && i < kMaxListed; ++i) {
      h += "<tr><td class=\"id\">" + html_escape(by_count[i]->actor) + "</td><td class=\"n\">" +
           num(by_count[i]->approved) + "</td><td class=\"n\">" + num(by_count[i]->rejected) + "</td></tr>\n";
    }
    h += "</table>\n";
    if (by_count.size() > kMaxListed) {
      h += "<p class=\"bad\">" + num(by_count.size() - kMaxListed) + " more actors not listed (" +
           num(by_count.size()) + " in all).</p>\n";
    }
  }
  h += "<h2>Link incidents</h2>\n<p class=\"meta\"><code>link.*</code> records other than the routine "
       "<code>link.up</code> and <code>link.rekeyed</code>.</p>\n" +
       happening_table(f.link_incidents, f.link_incidents_total,
                       {{"channel", &Happening::channel}, {"detail", &Happening::detail}});
  h += "<h2>Policy changes</h2>\n" + happening_table(f.policy_changes, f.policy_changes_total,
                       {{"serial", &Happening::serial}, {"signer", &Happening::signer, true},
                        {"actor", &Happening::actor, true}, {"detail", &Happening::detail}});
  h += "<h2>Self-tests</h2>\n" + happening_table(f.selftests, f.selftests_passed + f.selftests_failed,
                       {{"detail", &Happening::detail}});
  h += "<h2>All events</h2>\n" + count_table(f.events, "event", kMaxListed);
  h += "</body></html>\n";
  return h;
}

}  // namespace ferry::auditdb

// The report's figures, and their JSON form.
#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <tuple>
#include <unordered_set>

#include "ferry/audit/json.h"
#include "ferry/audit/record.h"
#include "ferry/auditdb/report.h"
#include "ferry/auditdb/when.h"

namespace ferry::auditdb {

namespace {

using crypto::Errc;
using crypto::make_error;

std::string field(const audit::Record& r, std::string_view key) {
  const std::string* v = r.get(key);
  return v != nullptr ? *v : std::string();
}

std::uint64_t size_of(const audit::Record& r) {
  const std::string* v = r.get("size");
  std::uint64_t n = 0;
  if (v == nullptr) return 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  return ec == std::errc() && end == v->data() + v->size() ? n : 0;
}

// The direction an object-crossing event stands for, or "" when the event
// does not count towards volume.
std::string crossing(const audit::Record& r) {
  const bool out = r.event == "object.accepted" || r.event == "object.sent";
  const bool in = r.event == "object.received" || r.event == "object.delivered";
  if (!out && !in) return "";
  if (const std::string* d = r.get("direction"); d != nullptr && !d->empty()) return *d;
  return out ? "outbound" : "inbound";
}

bool is_rejection(std::string_view event) {
  return event == "object.refused" || event == "object.quarantined" || event == "object.rejected";
}

std::vector<Count> most_first(const std::map<std::string, std::uint64_t>& counts) {
  std::vector<Count> out;
  for (const auto& [k, n] : counts) out.push_back({k, n});
  std::stable_sort(out.begin(), out.end(), [](const Count& a, const Count& b) { return a.count > b.count; });
  return out;
}

Happening happening(const audit::Record& r) {
  return Happening{r.seq,
                   r.ts,
                   r.event,
                   field(r, "channel"),
                   field(r, "serial"),
                   field(r, "signer"),
                   field(r, "actor"),
                   field(r, "detail"),
                   field(r, "name"),
                   field(r, "type"),
                   field(r, "reasons").empty() ? field(r, "reason") : field(r, "reasons")};
}

void keep(std::vector<Happening>& list, std::uint64_t& total, const audit::Record& r) {
  ++total;
  if (list.size() < kMaxListed) list.push_back(happening(r));
}

}  // namespace

crypto::Result<ReportFigures> compute_report(AuditIndex& index, std::string_view from_day, std::string_view to_day) {
  const std::optional<std::int64_t> from = parse_day(from_day);
  const std::optional<std::int64_t> to = parse_day(to_day);
  if (!from) return make_error(Errc::invalid_argument, "--from: '" + std::string(from_day) + "' is not a day (2026-11-27)");
  if (!to) return make_error(Errc::invalid_argument, "--to: '" + std::string(to_day) + "' is not a day (2026-11-27)");
  if (*to < *from) return make_error(Errc::invalid_argument, "--to is before --from");
  // A bound on the page and the charts, not on the trail: ten years of days.
  if ((*to - *from) / kMsPerDay >= 3660) return make_error(Errc::invalid_argument, "the period is longer than ten years");

  ReportFigures f;
  f.from_day = from_day;
  f.to_day = to_day;
  for (std::int64_t d = *from; d <= *to; d += kMsPerDay) f.days.push_back(day_of(d));

  std::set<std::string> sides;
  std::map<std::string, std::uint64_t> events, reasons, types;
  std::map<std::tuple<std::string, std::string, std::string>, DayVolume> volume;
  std::map<std::string, Approvals> approvals;
  std::unordered_set<std::string> crossed;  // direction '\n' object
  std::uint64_t unreadable = 0;

  Filter filter;
  filter.since_ms = *from;
  filter.until_ms = *to + kMsPerDay;
  crypto::Status st = index.scan(filter, [&](const Row& row) {
    // The index took only lines parse_record accepted; a failure here means
    // the index file itself was altered, and such a row is left out.
    crypto::Result<audit::Record> parsed = audit::parse_record(row.line);
    if (!parsed) {
      ++unreadable;
      return true;
    }
    const audit::Record& r = *parsed;
    ++f.records;
    sides.insert(r.side);
    ++events[r.event];

    if (std::string dir = crossing(r); !dir.empty()) {
      const std::string object = field(r, "object");
      // Records without an object id cannot be told apart; each counts.
      if (object.empty() || crossed.insert(dir + '\n' + object).second) {
        const std::string channel = field(r, "channel");
        DayVolume& v = volume[{day_of(row.ts_ms), channel, dir}];
        if (v.objects == 0) v = DayVolume{day_of(row.ts_ms), channel, dir, 0, 0};
        ++v.objects;
        v.bytes += size_of(r);
      }
    }
    if (is_rejection(r.event)) {
      keep(f.rejections, f.rejected_objects, r);
      std::string codes = field(r, "reasons");
      if (codes.empty()) codes = field(r, "reason");
      if (codes.empty()) codes = "(none given)";
      std::size_t start = 0;
      while (start <= codes.size()) {
        std::size_t comma = codes.find(',', start);
        if (comma == std::string::npos) comma = codes.size();
        if (comma > start) ++reasons[codes.substr(start, comma - start)];
        start = comma + 1;
      }
      const std::string type = field(r, "type");
      ++types[type.empty() ? "(unknown)" : type];
    }
    if (r.event == "object.approved" || r.event == "object.rejected") {
      std::string actor = field(r, "actor");
      if (actor.empty()) actor = "(none recorded)";
      Approvals& a = approvals[actor];
      a.actor = actor;
      ++(r.event == "object.approved" ? a.approved : a.rejected);
    }
    if (r.event.starts_with("link.") && r.event != "link.up" && r.event != "link.rekeyed") {
      keep(f.link_incidents, f.link_incidents_total, r);
    }
    if (r.event.starts_with("policy.")) keep(f.policy_changes, f.policy_changes_total, r);
    if (r.event.starts_with("selftest.")) {
      ++(r.event == "selftest.failed" ? f.selftests_failed : f.selftests_passed);
      std::uint64_t listed = 0;
      keep(f.selftests, listed, r);
    }
    return true;
  });
  if (!st) return st.error();
  if (unreadable > 0) {
    return make_error(Errc::bad_format, std::to_string(unreadable) +
                                            " indexed rows are not records: delete the index file and run again");
  }

  f.sides.assign(sides.begin(), sides.end());
  for (const auto& [k, n] : events) f.events.push_back({k, n});
  std::set<std::string> channels;
  for (auto& [key, v] : volume) {
    channels.insert(v.channel);
    f.volume.push_back(std::move(v));
  }
  f.channels.assign(channels.begin(), channels.end());
  f.rejection_reasons = most_first(reasons);
  f.rejected_types = most_first(types);
  for (auto& [actor, a] : approvals) f.approvals.push_back(std::move(a));
  return f;
}

namespace {

void json_count_list(std::string& out, const char* name, const std::vector<Count>& list) {
  out += ",\n  \"";
  out += name;
  out += "\": [";
  for (std::size_t i = 0; i < list.size(); ++i) {
    out += i == 0 ? "" : ", ";
    out += "{\"key\": " + audit::json_string(list[i].key) + ", \"count\": " + std::to_string(list[i].count) + "}";
  }
  out += "]";
}

void json_happenings(std::string& out, const char* name, const std::vector<Happening>& list, std::uint64_t total) {
  out += ",\n  \"";
  out += name;
  out += "\": {\"total\": " + std::to_string(total) + ", \"listed\": [";
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Happening& h = list[i];
    out += i == 0 ? "\n    " : ",\n    ";
    out += "{\"seq\": " + std::to_string(h.seq) + ", \"ts\": " + audit::json_string(h.ts) +
           ", \"event\": " + audit::json_string(h.event) + ", \"channel\": " + audit::json_string(h.channel) +
           ", \"serial\": " + audit::json_string(h.serial) + ", \"signer\": " + audit::json_string(h.signer) +
           ", \"actor\": " + audit::json_string(h.actor) + ", \"detail\": " + audit::json_string(h.detail) +
           ", \"name\": " + audit::json_string(h.name) + ", \"type\": " + audit::json_string(h.type) +
           ", \"reasons\": " + audit::json_string(h.reasons) + "}";
  }
  out += "]}";
}

}  // namespace

std::string render_json(const ReportFigures& f, const ChainCheck& chain) {
  std::string out = "{\n  \"from\": " + audit::json_string(f.from_day) + ",\n  \"to\": " + audit::json_string(f.to_day);
  out += ",\n  \"sides\": [";
  for (std::size_t i = 0; i < f.sides.size(); ++i) out += (i == 0 ? "" : ", ") + audit::json_string(f.sides[i]);
  out += "],\n  \"records\": " + std::to_string(f.records);
  out += ",\n  \"chain\": {\"verified\": " + std::string(chain.verified ? "true" : "false") +
         ", \"ok\": " + (chain.ok ? "true" : "false") + ", \"summary\": " + audit::json_string(chain.summary) +
         ", \"first_problem\": " + audit::json_string(chain.first_problem) + "}";
  json_count_list(out, "events", f.events);
  out += ",\n  \"volume\": [";
  for (std::size_t i = 0; i < f.volume.size(); ++i) {
    const DayVolume& v = f.volume[i];
    out += i == 0 ? "\n    " : ",\n    ";
    out += "{\"day\": " + audit::json_string(v.day) + ", \"channel\": " + audit::json_string(v.channel) +
           ", \"direction\": " + audit::json_string(v.direction) + ", \"objects\": " + std::to_string(v.objects) +
           ", \"bytes\": " + std::to_string(v.bytes) + "}";
  }
  out += "]";
  json_happenings(out, "rejections", f.rejections, f.rejected_objects);
  json_count_list(out, "rejection_reasons", f.rejection_reasons);
  json_count_list(out, "rejected_types", f.rejected_types);
  out += ",\n  \"approvals\": [";
  for (std::size_t i = 0; i < f.approvals.size(); ++i) {
    const Approvals& a = f.approvals[i];
    out += (i == 0 ? "" : ", ") + std::string("{\"actor\": ") + audit::json_string(a.actor) +
           ", \"approved\": " + std::to_string(a.approved) + ", \"rejected\": " + std::to_string(a.rejected) + "}";
  }
  out += "]";
  json_happenings(out, "link_incidents", f.link_incidents, f.link_incidents_total);
  json_happenings(out, "policy_changes", f.policy_changes, f.policy_changes_total);
  json_happenings(out, "selftests", f.selftests, f.selftests_passed + f.selftests_failed);
  out += ",\n  \"selftests_passed\": " + std::to_string(f.selftests_passed);
  out += ",\n  \"selftests_failed\": " + std::to_string(f.selftests_failed);
  out += "\n}\n";
  return out;
}

}  // namespace ferry::auditdb

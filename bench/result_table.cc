#include "bench/result_table.h"

#include <algorithm>
#include <cstdio>

namespace ferry::bench {

void CollectingReporter::ReportRuns(const std::vector<Run>& runs) {
  std::vector<Run> shown;
  for (const Run& run : runs) {
    if (run.run_type == Run::RT_Aggregate || run.repetitions <= 1) shown.push_back(run);
    if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
    auto& kept = best_[run.run_name.function_name];
    for (const auto& [name, counter] : run.counters) {
      auto [it, inserted] = kept.emplace(name, counter.value);
      if (!inserted) it->second = std::max(it->second, counter.value);
    }
  }
  if (!shown.empty()) benchmark::ConsoleReporter::ReportRuns(shown);
}

std::optional<double> CollectingReporter::rate(std::string_view name, std::string_view counter) const {
  auto bench = best_.find(name);
  if (bench == best_.end()) return std::nullopt;
  auto value = bench->second.find(std::string(counter));
  if (value == bench->second.end()) return std::nullopt;
  return value->second;
}

namespace {

std::string format_rate(std::optional<double> value, Unit unit) {
  if (!value) return "not run";
  char buf[64];
  if (unit == Unit::megabytes_per_second) {
    std::snprintf(buf, sizeof buf, "%.1f MB/s", *value / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f op/s", *value);
  }
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string pad_left(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

}  // namespace

bool print_table(std::ostream& out, const std::string& header, const std::vector<TableRow>& rows) {
  std::size_t w_measure = std::string_view("measurement").size();
  std::size_t w_ours = std::string_view("ours").size();
  std::size_t w_base = std::string_view("baseline").size();
  for (const TableRow& r : rows) {
    w_measure = std::max(w_measure, r.measurement.size());
    w_ours = std::max(w_ours, r.ours_name.size());
    w_base = std::max(w_base, r.baseline_name.size());
  }
  constexpr std::size_t w_rate = 14;
  constexpr std::size_t w_ratio = 7;

  std::string rule(w_measure + w_ours + w_base + 2 * w_rate + w_ratio + 24, '-');
  out << '\n' << header << '\n' << rule << '\n';
  out << pad("measurement", w_measure) << "  " << pad("ours", w_ours) << "  " << pad_left("", w_rate) << "  "
      << pad("baseline (same run)", w_base) << "  " << pad_left("", w_rate) << "  " << pad_left("ratio", w_ratio)
      << "  check\n"
      << rule << '\n';

  bool all_pass = true;
  for (const TableRow& r : rows) {
    std::string ratio = "-";
    std::string check = r.note;
    if (r.ours && r.baseline && *r.baseline > 0) {
      const double value = *r.ours / *r.baseline;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", value);
      ratio = buf;
      if (r.required_ratio) {
        const bool pass = value >= *r.required_ratio;
        std::snprintf(buf, sizeof buf, " (>= %.2f)", *r.required_ratio);
        check = (pass ? "PASS" : "FAIL") + std::string(buf);
        all_pass = all_pass && pass;
      }
    } else if (r.required_ratio) {
      check = "not checked (not run)";
    }
    out << pad(r.measurement, w_measure) << "  " << pad(r.ours_name, w_ours) << "  "
        << pad_left(format_rate(r.ours, r.unit), w_rate) << "  "
        << pad(r.baseline_name.empty() ? "-" : r.baseline_name, w_base) << "  "
        << pad_left(r.baseline_name.empty() ? "-" : format_rate(r.baseline, r.unit), w_rate) << "  "
        << pad_left(ratio, w_ratio) << "  " << check << '\n';
  }
  out << rule << '\n';
  return all_pass;
}

}  // namespace ferry::bench

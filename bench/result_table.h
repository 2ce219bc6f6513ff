// The summary ferry-bench prints after Google Benchmark's own output: one row
// per measurement, ours beside a baseline measured in the same run, their
// ratio, and a PASS/FAIL verdict on rows that carry a requirement.
#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

namespace ferry::bench {

// Prints the aggregates (mean, median, stddev, cv) as the console reporter
// does, and keeps per benchmark the best value of each rate counter over its
// repetitions, for the table. The best, not the median: on a shared machine
// (this one is a VM) interference only ever slows a repetition down, so the
// fastest one is the closest to what the code costs, and ours and the
// baselines are compared on equal terms.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  using benchmark::ConsoleReporter::ConsoleReporter;
  void ReportRuns(const std::vector<Run>& runs) override;

  // The best value over the repetitions of a rate counter ("bytes_per_second",
  // "items_per_second") of the benchmark registered under `name`; nullopt if
  // it did not run (filtered out, or it reported an error).
  std::optional<double> rate(std::string_view name, std::string_view counter) const;

 private:
  std::map<std::string, std::map<std::string, double>, std::less<>> best_;
};

enum class Unit { megabytes_per_second, operations_per_second };

struct TableRow {
  std::string measurement;  // what is measured, e.g. "SM3 16 KiB"
  std::string ours_name;    // our code path, e.g. "Sm3::digest"
  std::optional<double> ours;
  std::string baseline_name;  // empty when there is nothing to compare with
  std::optional<double> baseline;
  Unit unit = Unit::megabytes_per_second;
  // When set, the row is a requirement: ours / baseline must be at least this.
  std::optional<double> required_ratio;
  std::string note;  // shown in the check column of a row without a requirement
};

// Returns false if any requirement row fails. A requirement whose inputs did
// not run (a --benchmark_filter left them out) is reported as not checked and
// does not fail.
bool print_table(std::ostream& out, const std::string& header, const std::vector<TableRow>& rows);

}  // namespace ferry::bench

#include "ferry/auditdb/when.h"

#include <chrono>
#include <cstdio>

#include "ferry/audit/record.h"

namespace ferry::auditdb {

std::optional<std::int64_t> parse_day(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  return audit::parse_timestamp(std::string(text) + "T00:00:00.000Z");
}

std::optional<std::int64_t> parse_when(std::string_view text) {
  // Completed to the records' form, whose parser is the one judge of what
  // a valid date and time are.
  switch (text.size()) {
    case 10: return parse_day(text);
    case 16: return audit::parse_timestamp(std::string(text) + ":00.000Z");
    case 19: return audit::parse_timestamp(std::string(text) + ".000Z");
    default: return audit::parse_timestamp(text);
  }
}

std::string day_of(std::int64_t ms) {
  const std::int64_t days = (ms >= 0 ? ms : ms - (kMsPerDay - 1)) / kMsPerDay;
  const std::chrono::year_month_day ymd{std::chrono::sys_days(std::chrono::days(days))};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

}  // namespace ferry::auditdb

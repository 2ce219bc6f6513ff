// Points in time as operators type them on the command line, all UTC:
// "2026-11-27", "2026-11-27T10:00", "2026-11-27T10:00:05" or the records'
// own "2026-11-27T10:00:05.123Z".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::auditdb {

inline constexpr std::int64_t kMsPerDay = 24LL * 60 * 60 * 1000;

// Milliseconds since the epoch; nullopt for any other form or a date that
// does not exist.
std::optional<std::int64_t> parse_when(std::string_view text);
// Just "2026-11-27": the start of that day.
std::optional<std::int64_t> parse_day(std::string_view text);
// "2026-11-27" for the day `ms` falls in.
std::string day_of(std::int64_t ms);

}  // namespace ferry::auditdb

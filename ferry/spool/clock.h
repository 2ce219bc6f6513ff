// Wall-clock time in Unix milliseconds. Everything that stamps a record or
// ages something takes a Clock, so tests move time without sleeping.
#pragma once

#include <cstdint>
#include <functional>

namespace ferry::spool {

using Clock = std::function<std::int64_t()>;

std::int64_t system_clock_ms();

}  // namespace ferry::spool

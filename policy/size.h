// Sizes as operators write them: "1024", "64KiB", "50MiB", "2GiB" (binary
// units, IEC 80000-13). "50MB", "1.5MiB", "-1" and "50 MiB" are refused
// rather than guessed at: a size limit is a security control.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace ferry::policy {

// Bytes; Errc::invalid_argument with a message that says what is wrong
// (negative, fractional, unknown unit, too large).
crypto::Result<std::uint64_t> parse_size(std::string_view text);

// The shortest exact spelling parse_size accepts: 52428800 -> "50MiB",
// 1000 -> "1000".
std::string format_size(std::uint64_t bytes);

inline constexpr std::string_view kSizeSyntaxHint = "sizes are written 1024, 64KiB, 50MiB, 2GiB";

}  // namespace ferry::policy

// The safe-file-name rule, applied when a file is ingested and again on the
// receiving side before delivery (the peer's word is not trusted).
#pragma once

#include <cstddef>
#include <string_view>

#include "crypto/result.h"

namespace ferry::spool {

inline constexpr std::size_t kMaxNameComponentBytes = 255;  // NAME_MAX on Linux file systems
inline constexpr std::size_t kMaxRelativeNameBytes = 1024;

// Names beginning with this are ours (claim directories in source trees,
// temp files in deliver trees) and never belong to an object.
inline constexpr std::string_view kReservedPrefix = ".ferry-";

// A '/'-separated path relative to a channel directory. Valid when it is
// UTF-8 (strict: no overlong forms, surrogates or code points past U+10FFFF;
// Chinese names are normal), holds no control character (C0, DEL, C1) and no
// bidirectional override (U+202A..U+202E, U+2066..U+2069, which make
// "report\u202Efdp.exe" display as "reportexe.pdf"), is not absolute, has no
// empty, "." or ".." component and no component starting with ".ferry-", no
// component over 255 bytes, and is at most 1024 bytes in all. Otherwise an
// Errc::invalid_argument whose message starts with "name.invalid: " and says
// what, e.g. "name.invalid: control character U+000A at byte 7".
crypto::Status check_relative_name(std::string_view path);

}  // namespace ferry::spool

// The one JSON string escaper (RFC 8259 §7) the log, the audit file and the
// CLI's --json output share.
#pragma once

#include <string>
#include <string_view>

namespace ferry::audit {

// Quotes and escapes s as a JSON string. Bytes that are not valid UTF-8 are
// written as \u00XX of the byte so a hostile file name can never break the
// line or the document.
std::string json_string(std::string_view s);

}  // namespace ferry::audit

// Personal-data masking ([disarm], `pii: { action: mask }`): each value the
// channel's detectors find (pii.h) is replaced by a masked form that keeps
// its shape, and nothing else in the object changes.
//
//   cn_id      first 6 and last 4 kept    110105********002X
//   cn_mobile  first 3 and last 4 kept   138****8000
//   bank_card  first 6 and last 4 kept   622202*********0003
//   uscc       first 4 and last 2 kept
//   email      first character and domain kept   z***@example.cn
//
// Only text-like objects can be masked safely: txt in any encoding decode_text
// reads (the output keeps the encoding and BOM), csv (columns and quoting
// kept), json (still parses: a number that held a value becomes a string),
// xml (still well formed). Separators inside a value (spaces, hyphens) are
// kept. After masking, the result is read again with the same rules: it
// must still be valid of its type and no value may remain (a value the
// detector sees only after decoding, such as a JSON \u escape or an XML
// character reference, cannot be masked in place). Any other type, and
// any of those failures, is an error the caller reports as pii.unmaskable.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "ferry/pipeline/text.h"
#include "policy/policy.h"

namespace ferry::pipeline {

struct Masked {
  std::string bytes;   // the object with every value masked
  // One line per masked value, without the value: "cn_id at line 3, column 7".
  std::vector<std::string> masked;
};

// The masked form of one value as written (separators kept).
std::string mask_value(policy::PiiKind kind, std::string_view value);

// Errors: bad_format with the reason in the officer's terms (the type cannot
// be masked; the value cannot be masked in place; the result would not be
// valid). `type` is the object's true type.
crypto::Result<Masked> mask_personal_data(policy::FileType type, std::string_view bytes,
                                          const std::vector<policy::PiiKind>& kinds, const TextLimits& limits = {});

}  // namespace ferry::pipeline

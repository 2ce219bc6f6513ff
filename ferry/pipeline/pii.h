// Personal data in text ([policy-inspect] stage 6, reason codes pii.*): the
// five kinds a policy can name, found with their validation so that a number
// that merely looks like one is not reported.
//
//  cn_id      GB 11643-1999 citizen identity number: 17 digits and a check
//             character (ISO 7064 MOD 11-2, X for 10), a province code that
//             exists (GB/T 2260 first two digits) and a real birth date
//             (1900-01-01 up to today, months and leap days checked).
//  cn_mobile  mainland mobile numbers: 11 digits, 1 then 3..9, optionally
//             after +86 / 86.
//  uscc       GB 32100-2015 unified social credit code: 18 characters from
//             0-9 and the 21 letters without I O S V Z, the last one its
//             check character (weights 3^i mod 31); characters 3-8 a
//             division code of a real province, 9-17 a GB 11714
//             organisation code with its own check character.
//  bank_card  16 to 19 digits, Luhn (ISO/IEC 7812-1 Annex B), and an issuer
//             prefix of a card scheme used in China (listed in pii.cc).
//  email      local@domain with a dot-separated domain and a 2+ letter TLD.
//
// Every match stands alone: the characters either side may not be ASCII
// digits or letters (for email: not address characters), so a run of 20
// digits holds no 18-digit ID. Text is UTF-8 as bytes; the digits are ASCII
// (full-width forms are folded by the normalisation step before this runs).
// Hand-written rather than Hyperscan patterns: every match needs arithmetic
// validation anyway, and the scan is one linear pass.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "policy/policy.h"

namespace ferry::pipeline {

struct PiiMatch {
  policy::PiiKind kind;
  std::size_t offset = 0;  // bytes into the text
  std::size_t length = 0;
  bool operator==(const PiiMatch&) const = default;
};

// The matches of the kinds asked for, in text order (overlaps resolved in
// favour of the earlier, then longer one).
std::vector<PiiMatch> find_pii(std::string_view text, const std::vector<policy::PiiKind>& kinds);

// The single validators, on exactly the candidate (no surrounding text).
// `today_yyyymmdd` bounds birth dates (e.g. 20261127).
bool is_cn_id(std::string_view s, int today_yyyymmdd);
bool is_cn_mobile(std::string_view s);
bool is_uscc(std::string_view s);
bool is_bank_card(std::string_view s);
bool is_email(std::string_view s);

}  // namespace ferry::pipeline

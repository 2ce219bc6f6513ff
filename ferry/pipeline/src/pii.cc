#include "ferry/pipeline/pii.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>

namespace ferry::pipeline {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }
int digit(char c) { return c - '0'; }

int today_yyyymmdd() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool valid_date(int y, int m, int d) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= kDays[static_cast<std::size_t>(m - 1)] + (m == 2 && leap(y) ? 1 : 0);
}

// GB/T 2260 province-level codes (the first two digits of an ID), with 71,
// 81, 82 and 83 for Taiwan, Hong Kong and Macao residents.
bool known_province(int code) {
  static constexpr std::array<int, 35> kCodes = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35,
                                                 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54,
                                                 61, 62, 63, 64, 65, 71, 81, 82, 83};
  return std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

// GB 32100-2015 §4: the 31 characters, in value order.
constexpr std::string_view kUsccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY";
// Registration authority codes (the first character) GB 32100 assigns.
constexpr std::string_view kUsccAuthorities = "123456789ANY";

// Issuer prefixes of the card schemes in use in China (ISO/IEC 7812 IINs):
// China UnionPay 62 and the older domestic 60 and 9 ranges, Visa 4,
// Mastercard 51-55 and 2221-2720, JCB 3528-3589, Discover 6011, 644-649, 65.
bool known_issuer(std::string_view s) {
  auto prefix = [&](std::size_t n) { return std::stoi(std::string(s.substr(0, n))); };
  const int p2 = prefix(2), p3 = prefix(3), p4 = prefix(4);
  return s[0] == '4' || s[0] == '9' || p2 == 60 || p2 == 62 || p2 == 65 || (p2 >= 51 && p2 <= 55) ||
         (p4 >= 2221 && p4 <= 2720) || (p4 >= 3528 && p4 <= 3589) || p4 == 6011 || (p3 >= 644 && p3 <= 649);
}

bool luhn(std::string_view s) {
  int sum = 0;
  bool twice = false;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    int d = digit(*it);
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool email_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool email_domain_char(char c) { return is_alnum(c) || c == '.' || c == '-'; }

bool is_cn_id_at(std::string_view s, int today) {
  if (s.size() != 18 || !all_digits(s.substr(0, 17))) return false;
  const char last = s[17];
  if (!is_digit(last) && last != 'X' && last != 'x') return false;
  if (!known_province(digit(s[0]) * 10 + digit(s[1]))) return false;
  const int y = std::stoi(std::string(s.substr(6, 4)));
  const int m = std::stoi(std::string(s.substr(10, 2)));
  const int d = std::stoi(std::string(s.substr(12, 2)));
  if (y < 1900 || !valid_date(y, m, d) || y * 10000 + m * 100 + d > today) return false;
  // ISO 7064 MOD 11-2 (GB 11643 §6.2): weights 2^(17-i) mod 11.
  static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (std::size_t i = 0; i < 17; ++i) sum += digit(s[i]) * kWeights[i];
  static constexpr std::string_view kCheck = "10X98765432";
  return kCheck[static_cast<std::size_t>(sum % 11)] == (last == 'x' ? 'X' : last);
}

}  // namespace

bool is_cn_id(std::string_view s, int today) { return is_cn_id_at(s, today); }

bool is_cn_mobile(std::string_view s) {
  if (s.size() == 13 && s.starts_with("86")) s.remove_prefix(2);
  return s.size() == 11 && all_digits(s) && s[0] == '1' && s[1] >= '3' && s[1] <= '9';
}

// GB 11714-1997 organisation code: 8 characters and a check character
// (weights 3 7 9 10 5 8 4 2, mod 11; 10 is 'X', 11 is '0').
bool is_organisation_code(std::string_view s) {
  static constexpr int kWeights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    const char c = s[i];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'A' && c <= 'Z') {
      v = c - 'A' + 10;
    } else {
      return false;
    }
    sum += v * kWeights[i];
  }
  const int check = 11 - sum % 11;
  const char expected = check == 10 ? 'X' : check == 11 ? '0' : static_cast<char>('0' + check);
  return s[8] == expected;
}

bool is_uscc(std::string_view written) {
  // Letters in either case: the scan runs over case-folded text.
  if (written.size() != 18) return false;
  std::string upper(written);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  const std::string_view s = upper;
  if (kUsccAuthorities.find(s[0]) == std::string_view::npos) return false;
  // GB 32100-2015 4.2: characters 3-8 are the registering office's GB/T
  // 2260 division code, 9-17 the GB 11714 organisation code with its own
  // check character. Both cut false positives on 18-character runs by far
  // more than the final check character alone (1 in 31).
  if (!all_digits(s.substr(2, 6)) || !known_province(digit(s[2]) * 10 + digit(s[3]))) return false;
  if (!is_organisation_code(s.substr(8, 9))) return false;
  int sum = 0;
  int weight = 1;
  for (std::size_t i = 0; i < 18; ++i) {
    const std::size_t v = kUsccChars.find(s[i]);
    if (v == std::string_view::npos) return false;
    if (i == 17) {
      const int check = (31 - sum % 31) % 31;
      return static_cast<int>(v) == check;
    }
    sum += static_cast<int>(v) * weight;
    weight = weight * 3 % 31;
  }
  return false;
}

bool is_bank_card(std::string_view s) {
  return s.size() >= 16 && s.size() <= 19 && all_digits(s) && known_issuer(s) && luhn(s);
}

bool is_email(std::string_view s) {
  const std::size_t at = s.find('@');
  if (at == 0 || at == std::string_view::npos || at > 64 || s.find('@', at + 1) != std::string_view::npos) return false;
  const std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
  if (!std::all_of(local.begin(), local.end(), email_local_char) || local.front() == '.' || local.back() == '.') {
    return false;
  }
  if (domain.size() < 4 || domain.size() > 253 || !std::all_of(domain.begin(), domain.end(), email_domain_char)) {
    return false;
  }
  const std::size_t dot = domain.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || domain.find("..") != std::string_view::npos) return false;
  const std::string_view tld = domain.substr(dot + 1);
  return tld.size() >= 2 && std::all_of(tld.begin(), tld.end(), is_alpha) && is_alnum(domain.front());
}

// The first ASCII digit at or after `from`, or text.size(). Eight bytes at a
// time while they are ASCII: adding 0x50 to a byte sets its high bit from
// '0' (0x30) up, adding 0x46 from ':' (0x3a) up; a digit is a byte with the
// first and not the second. No byte carries into the next below 0x80.
std::size_t next_digit(std::string_view text, std::size_t from) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  std::size_t i = from;
  while (i < text.size()) {
    if (i + 8 <= text.size()) {
      std::uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      if ((w & kHigh) == 0 && (((w + 0x50 * kOnes) & ~(w + 0x46 * kOnes)) & kHigh) == 0) {
        i += 8;  // eight ASCII bytes, none a digit
        continue;
      }
    }
    // A digit or a non-ASCII byte among the next eight: one by one.
    const std::size_t stop = std::min(text.size(), i + 8);
    for (; i < stop; ++i) {
      if (is_digit(text[i])) return i;
    }
  }
  return text.size();
}

std::vector<PiiMatch> find_pii(std::string_view text, const std::vector<policy::PiiKind>& kinds) {
  using policy::PiiKind;
  auto wanted = [&](PiiKind k) { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); };
  const int today = today_yyyymmdd();
  std::vector<PiiMatch> found;
  const bool any_run_kind = wanted(PiiKind::cn_id) || wanted(PiiKind::uscc) || wanted(PiiKind::cn_mobile) ||
                            wanted(PiiKind::bank_card);

  // Runs of ASCII letters and digits, each standing alone. Every kind found
  // in runs holds a digit (a USCC's characters 3-8 are digits), so the scan
  // jumps from digit to digit and words without one cost nothing more.
  for (std::size_t from = 0; any_run_kind && from < text.size();) {
    const std::size_t digit_at = next_digit(text, from);
    if (digit_at == text.size()) break;
    std::size_t i = digit_at;
    while (i > from && is_alnum(text[i - 1])) --i;
    std::size_t end = digit_at;
    while (end < text.size() && is_alnum(text[end])) ++end;
    from = end;
    const std::string_view run = text.substr(i, end - i);
    // Every kind but a USCC (18 characters, which may start with a letter)
    // starts with a digit.
    if (!is_digit(run.front()) && run.size() != 18) continue;
    if (wanted(PiiKind::cn_id) && is_cn_id_at(run, today)) found.push_back({PiiKind::cn_id, i, run.size()});
    if (wanted(PiiKind::uscc) && is_uscc(run) && !is_cn_id_at(run, today)) found.push_back({PiiKind::uscc, i, run.size()});
    if (wanted(PiiKind::cn_mobile) && is_cn_mobile(run)) found.push_back({PiiKind::cn_mobile, i, run.size()});
    if (wanted(PiiKind::bank_card) && is_bank_card(run)) found.push_back({PiiKind::bank_card, i, run.size()});
    // A mobile number written 3-4-4 with single spaces or hyphens.
    if (wanted(PiiKind::cn_mobile) && run.size() == 3 && all_digits(run) && end + 10 <= text.size()) {
      const char sep = text[end];
      const std::string_view rest = text.substr(end, 10);
      if ((sep == ' ' || sep == '-') && rest[5] == sep && all_digits(rest.substr(1, 4)) &&
          all_digits(rest.substr(6, 4)) && (end + 10 == text.size() || !is_alnum(text[end + 10])) &&
          is_cn_mobile(std::string(run) + std::string(rest.substr(1, 4)) + std::string(rest.substr(6, 4)))) {
        found.push_back({PiiKind::cn_mobile, i, 13});
      }
    }
  }

  if (wanted(PiiKind::email)) {
    for (std::size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
      std::size_t begin = at;
      while (begin > 0 && email_local_char(text[begin - 1])) --begin;
      std::size_t end = at + 1;
      while (end < text.size() && email_domain_char(text[end])) ++end;
      while (end > at + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) --end;  // "mail me at a@b.cn."
      if (is_email(text.substr(begin, end - begin))) found.push_back({PiiKind::email, begin, end - begin});
    }
  }

  std::sort(found.begin(), found.end(), [](const PiiMatch& a, const PiiMatch& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.length > b.length;
  });
  std::vector<PiiMatch> out;
  for (const PiiMatch& m : found) {
    if (!out.empty() && m.offset < out.back().offset + out.back().length) continue;
    out.push_back(m);
  }
  return out;
}

}  // namespace ferry::pipeline

#include "ferry/pipeline/keywords.h"

#include <hs/hs.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <cstdlib>
#include <limits>
#include <mutex>

namespace ferry::pipeline {

namespace {

using crypto::Errc;
using crypto::make_error;

bool is_cjk(UChar32 c) {
  return (c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3040 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x20000 && c <= 0x3134F);
}

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

const icu::Normalizer2& nfkc_casefold() {
  static const icu::Normalizer2* n = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* p = icu::Normalizer2::getNFKCCasefoldInstance(status);
    if (U_FAILURE(status) || p == nullptr) std::abort();  // ICU's own data is missing: a broken install
    return p;
  }();
  return *n;
}

std::string map_code_point(UChar32 c) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString out = nfkc_casefold().normalize(icu::UnicodeString(c), status);
  if (U_FAILURE(status)) return to_utf8(icu::UnicodeString(static_cast<UChar32>(0xFFFD)));
  return to_utf8(out);
}


// What one BMP code point normalises to, as a slice of a shared pool, and
// the facts the CJK-spacing rule needs about it.
struct Mapping {
  std::uint32_t offset = 0;  // into the pool
  std::uint8_t length = 0;   // 0: the code point disappears
  bool identity = false;     // maps to itself: the input bytes are copied
  bool all_space = false;
  bool first_cjk = false;
  bool last_cjk = false;
};

struct Table {
  std::string pool;
  std::vector<Mapping> bmp = std::vector<Mapping>(0x10000);
  // One bit per BMP code point: normalises to itself and is not white space.
  // 8 KiB, so the common case is answered from the first-level cache.
  std::array<std::uint64_t, 0x10000 / 64> plain{};
  bool is_plain(UChar32 c) const { return (plain[static_cast<std::size_t>(c) >> 6] >> (c & 63)) & 1; }
};

Mapping describe(UChar32 c, const std::string& mapped, std::string& pool) {
  Mapping m;
  m.offset = static_cast<std::uint32_t>(pool.size());
  m.length = static_cast<std::uint8_t>(mapped.size());
  pool += mapped;
  std::string self;
  icu::UnicodeString(c).toUTF8String(self);
  m.identity = mapped == self;
  m.all_space = !mapped.empty();
  const auto* s = reinterpret_cast<const std::uint8_t*>(mapped.data());
  const std::int32_t length = static_cast<std::int32_t>(mapped.size());
  bool first = true;
  for (std::int32_t i = 0; i < length;) {
    UChar32 d;
    U8_NEXT(s, i, length, d);
    if (!u_isUWhiteSpace(d)) m.all_space = false;
    const bool cjk = is_cjk(d);
    if (first) m.first_cjk = cjk;
    m.last_cjk = cjk;
    first = false;
  }
  return m;
}

// NFKC_Casefold of every BMP code point, computed once (about 65,000 ICU
// calls, a few tens of milliseconds): the text is then normalised with one
// table look-up per code point. Code points above the BMP go to ICU.
const Table& table() {
  static const Table* t = [] {
    auto* tab = new Table;
    for (UChar32 c = 0; c < 0x10000; ++c) {
      if (U_IS_SURROGATE(c)) continue;
      const Mapping m = describe(c, map_code_point(c), tab->pool);
      tab->bmp[static_cast<std::size_t>(c)] = m;
      if (m.identity && !m.all_space) tab->plain[static_cast<std::size_t>(c) >> 6] |= std::uint64_t{1} << (c & 63);
    }
    return tab;
  }();
  return *t;
}

// The output and the running offset bookkeeping of one normalisation.
class Builder {
 public:
  // Without `track`, only the text is built (the scan's fast path); the
  // offsets are worked out again only for a text that has a hit.
  Builder(NormalisedText& out, bool track) : out_(out), track_(track) {}

  // `bytes` stand for the `length` input bytes at `at`. Byte k of them comes
  // from input byte at + k, or from `at` itself where the output is longer
  // than the input (ﬃ -> ffi): origins never run past the character.
  void emit(std::string_view bytes, std::size_t at, std::size_t length) {
    if (!track_) {
      out_.text.append(bytes);
      return;
    }
    if (bytes.size() <= length) return append(bytes, at);
    for (std::size_t k = 0; k < bytes.size(); ++k) append(bytes.substr(k, 1), at);
  }

 private:
  void append(std::string_view bytes, std::size_t at) {
    const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(at) - static_cast<std::ptrdiff_t>(out_.text.size());
    if (shift != shift_) {
      out_.shifts.emplace_back(out_.text.size(), shift);
      shift_ = shift;
    }
    out_.text.append(bytes);
  }

 private:
  NormalisedText& out_;
  bool track_;
  std::ptrdiff_t shift_ = 0;
};

}  // namespace

std::size_t NormalisedText::origin(std::size_t offset) const {
  auto it = std::upper_bound(shifts.begin(), shifts.end(), offset,
                             [](std::size_t o, const std::pair<std::size_t, std::ptrdiff_t>& s) { return o < s.first; });
  const std::ptrdiff_t shift = it == shifts.begin() ? 0 : std::prev(it)->second;
  return static_cast<std::size_t>(static_cast<std::ptrdiff_t>(offset) + shift);
}

namespace {

NormalisedText normalise(std::string_view utf8, bool track) {
  const Table& tab = table();
  NormalisedText out;
  out.text.reserve(utf8.size());
  Builder b(out, track);
  // White space seen after a CJK character, held until the next character
  // says whether it sits between two CJK characters (then it is dropped).
  // Each piece keeps its input offset.
  struct Held {
    std::string bytes;
    std::size_t at, length;
  };
  std::vector<Held> held;
  bool last_was_cjk = false;
  auto flush = [&](bool drop) {
    if (!drop) {
      for (const Held& h : held) b.emit(h.bytes, h.at, h.length);
    }
    held.clear();
  };
  const auto* s = reinterpret_cast<const std::uint8_t*>(utf8.data());
  const std::int32_t length = static_cast<std::int32_t>(utf8.size());
  // After a character that is not white space: the characters that follow
  // and normalise to themselves (most text) are copied in one piece. No
  // white space is among them, so the CJK rule has nothing to hold.
  auto copy_run = [&](std::int32_t& i) {
    const std::int32_t start = i;
    while (i < length) {
      const std::uint8_t byte = s[i];
      if (byte < 0x80) {
        if ((byte >= 'A' && byte <= 'Z') || byte == ' ' || (byte >= '\t' && byte <= '\r') ||
            (byte >= 0x1C && byte <= 0x1F)) {
          break;
        }
        last_was_cjk = false;
        ++i;
        continue;
      }
      std::int32_t next = i;
      UChar32 c;
      U8_NEXT(s, next, length, c);
      if (c < 0 || c >= 0x10000 || !tab.is_plain(c)) break;
      last_was_cjk = is_cjk(c);
      i = next;
    }
    if (i > start) {
      const auto from = static_cast<std::size_t>(start), n = static_cast<std::size_t>(i - start);
      b.emit(utf8.substr(from, n), from, n);
    }
  };
  for (std::int32_t i = 0; i < length;) {
    const std::size_t at = static_cast<std::size_t>(i);
    // ASCII: letters fold to lower case, other characters stay; only white
    // space takes part in the CJK rule.
    if (s[i] < 0x80) {
      const char ch = static_cast<char>(s[i]);
      ++i;
      const bool space = ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1C && ch <= 0x1F);
      if (space && last_was_cjk) {
        held.push_back({std::string(1, ch), at, 1});
        continue;
      }
      if (!space) {
        flush(false);
        last_was_cjk = false;
      }
      const char folded = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
      b.emit(std::string_view(&folded, 1), at, 1);
      if (!space) copy_run(i);
      continue;
    }
    UChar32 c;
    U8_NEXT(s, i, length, c);
    const bool invalid = c < 0;
    if (invalid) c = 0xFFFD;
    Mapping m;
    std::string astral;
    std::string_view mapped;
    if (c < 0x10000) {
      m = tab.bmp[static_cast<std::size_t>(c)];
      mapped = m.identity && !invalid ? utf8.substr(at, static_cast<std::size_t>(i) - at)
                          : std::string_view(tab.pool).substr(m.offset, m.length);
    } else {
      std::string pool;
      m = describe(c, map_code_point(c), pool);
      astral = std::move(pool);
      mapped = astral;
    }
    if (mapped.empty()) continue;  // default ignorable: gone
    // Judged on what the character became (half-width katakana become CJK,
    // an ideographic space an ASCII one), so that normalising twice changes
    // nothing more.
    if (m.all_space) {
      if (last_was_cjk) {
        held.push_back({std::string(mapped), at, static_cast<std::size_t>(i) - at});
        continue;
      }
    } else {
      flush(last_was_cjk && m.first_cjk);
      last_was_cjk = m.last_cjk;
    }
    b.emit(mapped, at, static_cast<std::size_t>(i) - at);
    if (!m.all_space) copy_run(i);
  }
  flush(false);
  return out;
}

}  // namespace

NormalisedText normalise_for_keywords(std::string_view utf8) { return normalise(utf8, true); }

struct KeywordMatcher::Impl {
  struct Term {
    std::string list, term;
  };
  std::vector<Term> terms;
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  mutable std::mutex scratch_mutex;  // one scan at a time uses the scratch space

  ~Impl() {
    if (scratch != nullptr) hs_free_scratch(scratch);
    if (db != nullptr) hs_free_database(db);
  }
};

KeywordMatcher::KeywordMatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KeywordMatcher::KeywordMatcher(KeywordMatcher&&) noexcept = default;
KeywordMatcher& KeywordMatcher::operator=(KeywordMatcher&&) noexcept = default;
KeywordMatcher::~KeywordMatcher() = default;

crypto::Result<KeywordMatcher> KeywordMatcher::compile(const std::vector<KeywordList>& lists) {
  auto impl = std::make_unique<Impl>();
  std::vector<std::string> normalised;
  for (const KeywordList& list : lists) {
    for (const std::string& term : list.terms) {
      std::string n = normalise_for_keywords(term).text;
      if (n.empty()) {
        return make_error(Errc::invalid_argument,
                          "keyword list '" + list.name + "': term '" + term + "' is empty after normalisation");
      }
      impl->terms.push_back({list.name, term});
      normalised.push_back(std::move(n));
    }
  }
  if (normalised.empty()) return KeywordMatcher(std::move(impl));
  std::vector<const char*> expressions;
  std::vector<std::size_t> lengths;
  std::vector<unsigned> ids, flags;
  for (std::size_t i = 0; i < normalised.size(); ++i) {
    expressions.push_back(normalised[i].data());
    lengths.push_back(normalised[i].size());
    ids.push_back(static_cast<unsigned>(i));
    flags.push_back(HS_FLAG_SOM_LEFTMOST);
  }
  hs_compile_error_t* error = nullptr;
  if (hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(),
                           static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr, &impl->db,
                           &error) != HS_SUCCESS) {
    std::string why = error != nullptr && error->message != nullptr ? error->message : "unknown error";
    if (error != nullptr && error->expression >= 0) {
      const Impl::Term& t = impl->terms[static_cast<std::size_t>(error->expression)];
      why = "keyword list '" + t.list + "', term '" + t.term + "': " + why;
    }
    hs_free_compile_error(error);
    return make_error(Errc::invalid_argument, "keyword lists do not compile: " + why);
  }
  if (hs_alloc_scratch(impl->db, &impl->scratch) != HS_SUCCESS) {
    return make_error(Errc::internal, "keyword matcher: no scratch space");
  }
  return KeywordMatcher(std::move(impl));
}

std::size_t KeywordMatcher::term_count() const { return impl_->terms.size(); }

std::optional<KeywordHit> KeywordMatcher::first_hit(std::string_view utf8) const {
  if (impl_->db == nullptr) return std::nullopt;
  const NormalisedText n = normalise(utf8, false);
  // hs_scan takes an unsigned length; text extraction's limits keep texts far
  // below 4 GiB, so a longer one is a caller's bug.
  if (n.text.size() > std::numeric_limits<unsigned>::max()) std::abort();
  struct Found {
    bool any = false;
    unsigned id = 0;
    unsigned long long from = 0;
  } found;
  auto on_match = [](unsigned id, unsigned long long from, unsigned long long, unsigned, void* ctx) -> int {
    auto* f = static_cast<Found*>(ctx);
    *f = {true, id, from};
    return 1;  // the first match (by its end) is enough: stop
  };
  {
    std::lock_guard<std::mutex> guard(impl_->scratch_mutex);
    const hs_error_t rc = hs_scan(impl_->db, n.text.data(), static_cast<unsigned>(n.text.size()), 0, impl_->scratch,
                                  on_match, &found);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) std::abort();  // only on a misuse of the API: a bug
  }
  if (!found.any) return std::nullopt;
  const Impl::Term& t = impl_->terms[found.id];
  // A hit: normalise once more, keeping offsets, to say where it is.
  return KeywordHit{t.list, t.term, normalise(utf8, true).origin(static_cast<std::size_t>(found.from))};
}

}  // namespace ferry::pipeline

#include "ferry/pipeline/keywords.h"

#include <hs/hs.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <array>
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

// NFKC_Casefold of every BMP code point, computed once (about 65,000 ICU
// calls, a few tens of milliseconds): the text is then normalised with one
// table look-up per code point. Code points above the BMP go to ICU.
const std::array<std::string, 0x10000>& bmp_table() {
  static const auto* table = [] {
    auto* t = new std::array<std::string, 0x10000>();
    for (UChar32 c = 0; c < 0x10000; ++c) {
      if (U_IS_SURROGATE(c)) continue;
      (*t)[static_cast<std::size_t>(c)] = map_code_point(c);
    }
    return t;
  }();
  return *table;
}

struct Edges {
  bool all_space = true;
  bool first_cjk = false;
  bool last_cjk = false;
};

// Of a normalised character's UTF-8: whether it is all white space, and
// whether it starts and ends with a CJK character.
Edges edges(const std::string& mapped) {
  Edges e;
  const auto* s = reinterpret_cast<const std::uint8_t*>(mapped.data());
  const std::int32_t length = static_cast<std::int32_t>(mapped.size());
  bool first = true;
  for (std::int32_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(s, i, length, c);
    if (!u_isUWhiteSpace(c)) e.all_space = false;
    const bool cjk = is_cjk(c);
    if (first) e.first_cjk = cjk;
    e.last_cjk = cjk;
    first = false;
  }
  return e;
}

}  // namespace

NormalisedText normalise_for_keywords(std::string_view utf8) {
  const auto& table = bmp_table();
  NormalisedText out;
  out.text.reserve(utf8.size());
  out.origin.reserve(utf8.size());
  // White space seen after a CJK character, held until the next character
  // says whether it sits between two CJK characters (then it is dropped).
  std::string held;
  std::vector<std::size_t> held_origin;
  bool last_was_cjk = false;
  const auto* s = reinterpret_cast<const std::uint8_t*>(utf8.data());
  const std::int32_t length = static_cast<std::int32_t>(utf8.size());
  for (std::int32_t i = 0; i < length;) {
    const std::size_t at = static_cast<std::size_t>(i);
    UChar32 c;
    U8_NEXT(s, i, length, c);
    if (c < 0) c = 0xFFFD;
    const std::string mapped = c < 0x10000 ? table[static_cast<std::size_t>(c)] : map_code_point(c);
    if (mapped.empty()) continue;  // default ignorable: gone
    // Judged on what the character became (half-width katakana become CJK,
    // an ideographic space an ASCII one), so that normalising twice changes
    // nothing more.
    const Edges e = edges(mapped);
    if (e.all_space) {
      if (last_was_cjk) {
        held += mapped;
        held_origin.insert(held_origin.end(), mapped.size(), at);
        continue;
      }
    } else {
      if (!(last_was_cjk && e.first_cjk)) {
        out.text += held;
        out.origin.insert(out.origin.end(), held_origin.begin(), held_origin.end());
      }
      held.clear();
      held_origin.clear();
      last_was_cjk = e.last_cjk;
    }
    out.text += mapped;
    out.origin.insert(out.origin.end(), mapped.size(), at);
  }
  out.text += held;
  out.origin.insert(out.origin.end(), held_origin.begin(), held_origin.end());
  return out;
}

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
  const NormalisedText n = normalise_for_keywords(utf8);
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
  return KeywordHit{t.list, t.term, n.origin[static_cast<std::size_t>(found.from)]};
}

}  // namespace ferry::pipeline

#include "ferry/pipeline/keywords.h"

#include <hs/hs.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <mutex>
#include <system_error>
#include <thread>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ferry::pipeline {

namespace {

using crypto::Errc;
using crypto::make_error;

bool is_cjk(UChar32 c) {
  return (c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3040 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x20000 && c <= 0x3134F);
}

// The ASCII characters ICU counts as white space (u_isUWhiteSpace, UAX #44
// White_Space): they take part in the CJK-spacing rule.
bool is_ascii_space(std::uint8_t b) { return b == ' ' || (b >= '\t' && b <= '\r') || (b >= 0x1C && b <= 0x1F); }

// The next code point, or a negative value for ill-formed UTF-8 (ICU's
// U8_NEXT, over a window of at most four bytes so that texts longer than
// ICU's 32-bit indices are read whole). Well-formed 3-byte sequences, most of
// CJK text, are decoded here; E0 and ED, which restrict their second byte
// (overlongs, surrogates), go to ICU.
UChar32 next_code_point(const std::uint8_t* s, std::size_t& i, std::size_t length) {
  const std::uint8_t lead = s[i];
  if (lead >= 0xE1 && lead <= 0xEF && lead != 0xED && length - i >= 3 && (s[i + 1] & 0xC0) == 0x80 &&
      (s[i + 2] & 0xC0) == 0x80) {
    const UChar32 c = ((lead & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    i += 3;
    return c;
  }
  const std::int32_t window = static_cast<std::int32_t>(std::min<std::size_t>(length - i, 4));
  std::int32_t k = 0;
  UChar32 c;
  U8_NEXT(s + i, k, window, c);
  i += static_cast<std::size_t>(k);
  return c;
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

// A range of UTF-8 lead bytes; empty when lo > hi.
struct LeadRange {
  std::uint8_t lo = 1, hi = 0;
  bool empty() const { return lo > hi; }
};
bool in_lead(std::uint8_t b, LeadRange r) { return b >= r.lo && b <= r.hi; }

struct Table {
  std::string pool;
  std::vector<Mapping> bmp = std::vector<Mapping>(0x10000);
  // One bit per BMP code point: normalises to itself and is not white space.
  // 8 KiB, so the common case is answered from the first-level cache.
  std::array<std::uint64_t, 0x10000 / 64> plain{};
  bool is_plain(UChar32 c) const { return (plain[static_cast<std::size_t>(c) >> 6] >> (c & 63)) & 1; }
  // Lead bytes under which every code point is plain, so that the lead byte
  // alone answers for the character (the longest run of them: U+4000..U+9FFF,
  // E4..E9, CJK Unified Ideographs and Extension A, with ICU 72). Found from
  // the table, not assumed.
  LeadRange plain_lead3;
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

// The longest run of 3-byte lead bytes, from E1 to EC, under which every
// code point is plain. (E0 and ED restrict their second byte: overlongs,
// surrogates; they may not answer alone. Nor EF: U+FF00.. are full-width
// forms.)
LeadRange plain_3byte_leads(const Table& t) {
  LeadRange best;
  unsigned run = 0;
  for (unsigned lead = 0xE1; lead <= 0xEC; ++lead) {
    const UChar32 base = static_cast<UChar32>((lead & 0x0F) << 12);
    bool all = true;
    for (UChar32 c = base; c < base + 0x1000 && all; ++c) all = !U_IS_SURROGATE(c) && t.is_plain(c);
    run = all ? run + 1 : 0;
    if (run > 0 && (best.empty() || run > unsigned{best.hi} - best.lo + 1u)) {
      best = {static_cast<std::uint8_t>(lead + 1 - run), static_cast<std::uint8_t>(lead)};
    }
  }
  return best;
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
    tab->plain_lead3 = plain_3byte_leads(*tab);
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
    if (!track_) [[likely]] {
      out_.text.append(bytes);
      return;
    }
    emit_tracked(bytes, at, length);
  }

  // Case-folds ASCII letters among the last `n` bytes emitted: a run copied
  // as it stands may hold some ("Top Secret"); the length, and so every
  // origin, stays as it is.
  void fold_ascii_tail(std::size_t n) {
    for (std::size_t k = out_.text.size() - n; k < out_.text.size(); ++k) {
      char& ch = out_.text[k];
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
  }

 private:
  [[gnu::noinline]] void emit_tracked(std::string_view bytes, std::size_t at, std::size_t length) {
    if (bytes.size() <= length) return append(bytes, at);
    for (std::size_t k = 0; k < bytes.size(); ++k) append(bytes.substr(k, 1), at);
  }

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

// The plain-text fast path: how far the text goes on in characters that
// normalise to themselves, judged a block of 16 or 32 bytes at a time.
//
// A block's bytes fall into a few classes, one bit per byte (bit k for byte
// k). Only these are taken:
//  * ASCII above U+0020 (upper-case letters included: the caller folds
//    them, which keeps the length);
//  * ASCII U+0000..U+0020 (white space and controls) with an ASCII byte
//    above U+0020 right before or after it: then it is not between two CJK
//    characters, and stays;
//  * well-formed 3-byte sequences whose lead byte is in the table's plain
//    range (E4..E9 with ICU 72: every code point there is NFKC_Casefold
//    stable, UAX #15 §5, and not white space, UAX #44).
// Anything else, ill-formed UTF-8 included, is left to the exact path.
struct BlockClasses {
  std::uint64_t high = 0;   // 80..FF
  std::uint64_t cont = 0;   // 80..BF
  std::uint64_t lead3 = 0;  // a plain 3-byte lead
  std::uint64_t words = 0;  // 21..7F
  std::uint64_t upper = 0;  // 'A'..'Z'
};

#if defined(__SSE2__)
__m128i bytes_in(__m128i v, std::uint8_t lo, std::uint8_t hi) {
  const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8(static_cast<char>(lo)));
  return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(static_cast<char>(hi - lo))), t);
}
std::uint64_t mask_of(__m128i v) { return static_cast<std::uint16_t>(_mm_movemask_epi8(v)); }

struct Sse2 {
  static constexpr unsigned width = 16;
  static BlockClasses classify(const std::uint8_t* p, LeadRange lead3) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return {mask_of(v), mask_of(_mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(0xC0)))),
            mask_of(bytes_in(v, lead3.lo, lead3.hi)), mask_of(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x20))),
            mask_of(bytes_in(v, 'A', 'Z'))};
  }
};
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FERRY_KEYWORDS_AVX2 1
__attribute__((target("avx2"))) __m256i bytes_in(__m256i v, std::uint8_t lo, std::uint8_t hi) {
  const __m256i t = _mm256_sub_epi8(v, _mm256_set1_epi8(static_cast<char>(lo)));
  return _mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(static_cast<char>(hi - lo))), t);
}
__attribute__((target("avx2"))) std::uint64_t mask_of(__m256i v) {
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(v));
}
struct Avx2 {
  static constexpr unsigned width = 32;
  __attribute__((target("avx2"))) static BlockClasses classify(const std::uint8_t* p, LeadRange lead3) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {mask_of(v), mask_of(_mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(0xC0)), v)),
            mask_of(bytes_in(v, lead3.lo, lead3.hi)), mask_of(_mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x20))),
            mask_of(bytes_in(v, 'A', 'Z'))};
  }
};
#endif

// From i (a character boundary), blocks of `width` bytes while they are
// wholly taken; returns where the first byte not taken is, backed off to a
// character boundary, and sets `upper` if it passed an upper-case letter.
template <class Vector>
std::size_t skip_plain(const std::uint8_t* s, std::size_t i, std::size_t limit, std::size_t length, LeadRange lead3,
                       bool& upper) {
  constexpr unsigned width = Vector::width;
  static_assert(width < 64);
  const std::size_t start = i;
  const std::uint64_t all = (std::uint64_t{1} << width) - 1;
  auto bit = [](bool b, unsigned at) { return std::uint64_t{b} << at; };
  auto is_word = [](std::uint8_t b) { return b > 0x20 && b < 0x80; };
  // The two bytes before the block, as the last two of a block of their own.
  BlockClasses prev;
  if (i >= 1) {
    prev.cont = bit((s[i - 1] & 0xC0) == 0x80, width - 1);
    prev.lead3 = bit(in_lead(s[i - 1], lead3), width - 1);
    prev.words = bit(is_word(s[i - 1]), width - 1);
  }
  if (i >= 2) prev.lead3 |= bit(in_lead(s[i - 2], lead3), width - 2);
  // A block needs the byte after it too (white space before a word).
  while (i + width <= limit && i + width < length) {
    const BlockClasses now = Vector::classify(s + i, lead3);
    const std::uint64_t lead3_1 = ((now.lead3 << 1) | (prev.lead3 >> (width - 1))) & all;
    const std::uint64_t lead3_2 = ((now.lead3 << 2) | (prev.lead3 >> (width - 2))) & all;
    const std::uint64_t cont_1 = ((now.cont << 1) | (prev.cont >> (width - 1))) & all;
    const std::uint64_t words_1 = ((now.words << 1) | (prev.words >> (width - 1))) & all;
    const std::uint64_t words_next = (now.words >> 1) | bit(is_word(s[i + width]), width - 1);
    // Continuation bytes exactly where a plain lead calls for them: a
    // stray or missing one, or another lead, is not taken.
    const std::uint64_t expected_cont = lead3_1 | (lead3_2 & cont_1);
    const std::uint64_t space_or_control = ~(now.high | now.words) & all;
    const std::uint64_t bad =
        (now.cont ^ expected_cont) | (now.high & ~(now.cont | now.lead3)) | (space_or_control & ~words_1 & ~words_next);
    if (bad != 0) {
      const int first_bad = std::countr_zero(bad);
      upper = upper || (now.upper & ((std::uint64_t{1} << first_bad) - 1)) != 0;
      i += static_cast<std::size_t>(first_bad);
      break;
    }
    upper = upper || now.upper != 0;
    prev = now;
    i += width;
  }
  // Not past a character whose last bytes were not judged.
  if (i > start && s[i - 1] >= 0xC0) {
    i -= 1;
  } else if (i >= start + 2 && s[i - 2] >= 0xE0) {
    i -= 2;
  }
  return i;
}

#if defined(FERRY_KEYWORDS_AVX2)
// flatten: the AVX2 classification can only be inlined into a function
// compiled for AVX2.
__attribute__((target("avx2"), flatten)) std::size_t skip_plain_avx2(const std::uint8_t* s, std::size_t i,
                                                                     std::size_t limit, std::size_t length,
                                                                     LeadRange lead3, bool& upper) {
  return skip_plain<Avx2>(s, i, limit, length, lead3, upper);
}
#endif

std::size_t skip_plain_blocks(const std::uint8_t* s, std::size_t i, std::size_t limit, std::size_t length,
                              LeadRange lead3, bool& upper) {
  if (lead3.empty()) return i;
#if defined(FERRY_KEYWORDS_AVX2)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return skip_plain_avx2(s, i, limit, length, lead3, upper);
#endif
#if defined(__SSE2__)
  return skip_plain<Sse2>(s, i, limit, length, lead3, upper);
#else
  (void)s, (void)limit, (void)length, (void)upper;
  return i;
#endif
}

// The last character of the well-formed, non-empty text before `end`.
UChar32 last_code_point(const std::uint8_t* s, std::size_t end) {
  std::size_t at = end - 1;
  while ((s[at] & 0xC0) == 0x80) --at;
  return next_code_point(s, at, end);
}

// Output is handed to the scan in pieces of about this size, so that it is
// still in the cache when Hyperscan reads it.
constexpr std::size_t kPiece = std::size_t{64} << 10;

// Normalises utf8 into out. Whenever out.text has reached `piece` bytes,
// and at the end, drain(out.text, input_end) gets it: the normalised form
// of the input up to input_end, just like normalise_for_keywords of that
// prefix would give. After a drain but the last, out.text is emptied; a
// drain that returns false stops the normalisation. `track` keeps the
// offsets, for a text normalised in one piece.
template <class Drain>
void normalise(std::string_view utf8, NormalisedText& out, bool track, std::size_t piece, Drain&& drain) {
  const Table& tab = table();
  out.text.reserve(std::min(utf8.size(), piece) + 64);
  Builder b(out, track);
  // White space seen after a CJK character, held until the next character
  // says whether it sits between two CJK characters (then it is dropped).
  // Each piece keeps its input offset.
  struct Held {
    std::string bytes;
    std::size_t at, length;
  };
  std::vector<Held> held;
  // Hostile text can follow a CJK character with megabytes of white space:
  // past kMaxHeld pieces the rest of the run is only measured, and if it is
  // kept it comes out as one space for all of it (no term an officer writes
  // holds a thousand spaces in a row), so memory stays bounded.
  constexpr std::size_t kMaxHeld = 1024;
  std::size_t overflow_from = 0, overflow_to = 0;
  auto hold = [&](std::string_view bytes, std::size_t at, std::size_t len) {
    if (held.size() < kMaxHeld) {
      held.push_back({std::string(bytes), at, len});
      return;
    }
    if (overflow_to == 0) overflow_from = at;
    overflow_to = at + len;
  };
  bool last_was_cjk = false;
  auto flush = [&](bool drop) {
    if (!drop) {
      for (const Held& h : held) b.emit(h.bytes, h.at, h.length);
      if (overflow_to != 0) b.emit(" ", overflow_from, overflow_to - overflow_from);
    }
    held.clear();
    overflow_to = 0;
  };
  const auto* s = reinterpret_cast<const std::uint8_t*>(utf8.data());
  const std::size_t length = utf8.size();
  auto emit_run = [&](std::size_t from, std::size_t to, bool upper) {
    if (to == from) return;
    b.emit(utf8.substr(from, to - from), from, to - from);
    if (upper) b.fold_ascii_tail(to - from);
  };
  // After a character that is not held, nothing is held: up to the next
  // white space, the CJK rule has nothing to do, and every character is
  // emitted as the table maps it. Those that normalise to themselves (most
  // text) are copied in runs, judged a block at a time where possible. White
  // space is taken into a run only where an ASCII letter, digit or mark
  // beside it shows it is not between two CJK characters; other white
  // space, code points above the BMP and ill-formed UTF-8 are left to the
  // loop below.
  auto copy_run = [&](std::size_t& i) {
    std::size_t start = i;
    const std::size_t limit = i + std::min(piece, length - i);
    bool upper = false;
    for (;;) {
      const std::size_t from = i;
      i = skip_plain_blocks(s, i, limit, length, tab.plain_lead3, upper);
      if (i > from) last_was_cjk = s[i - 1] >= 0x80 && is_cjk(last_code_point(s, i));
      // One character at a time, by the table, until one that the blocks
      // above may take on.
      bool moved = false;
      while (i < limit) {
        const std::uint8_t byte = s[i];
        if (moved && (byte < 0x80 || in_lead(byte, tab.plain_lead3))) break;
        if (byte < 0x80) {
          if (is_ascii_space(byte)) return emit_run(start, i, upper);
          upper = upper || (byte >= 'A' && byte <= 'Z');
          last_was_cjk = false;
          ++i;
        } else {
          std::size_t next = i;
          const UChar32 c = next_code_point(s, next, length);
          if (c < 0 || c >= 0x10000) return emit_run(start, i, upper);
          if (tab.is_plain(c)) {
            last_was_cjk = is_cjk(c);
          } else {
            const Mapping& m = tab.bmp[static_cast<std::size_t>(c)];
            if (m.all_space) return emit_run(start, i, upper);
            // Full-width forms, compatibility characters, upper case beyond
            // ASCII; ignorables (length 0) leave no trace.
            emit_run(start, i, upper);
            if (m.length > 0) {
              b.emit(std::string_view(tab.pool).substr(m.offset, m.length), i, next - i);
              last_was_cjk = m.last_cjk;
            }
            start = next;
            upper = false;
          }
          i = next;
        }
        moved = true;
      }
      if (!moved || i >= limit) return emit_run(start, i, upper);
    }
  };
  for (std::size_t i = 0; i < length;) {
    if (out.text.size() >= piece && held.empty()) {
      if (!drain(std::string_view(out.text), i)) return;
      out.text.clear();
    }
    const std::size_t at = i;
    // ASCII: letters fold to lower case, other characters stay; only white
    // space takes part in the CJK rule.
    if (s[i] < 0x80) {
      const char ch = static_cast<char>(s[i]);
      ++i;
      const bool space = is_ascii_space(s[at]);
      if (space && last_was_cjk) {
        hold(std::string_view(&ch, 1), at, 1);
        continue;
      }
      if (!space) {
        flush(false);
        last_was_cjk = false;
      }
      const char folded = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
      b.emit(std::string_view(&folded, 1), at, 1);
      copy_run(i);
      continue;
    }
    UChar32 c = next_code_point(s, i, length);
    const bool invalid = c < 0;
    if (invalid) c = 0xFFFD;
    Mapping m;
    std::string astral;
    std::string_view mapped;
    if (c < 0x10000 && !invalid && tab.is_plain(c)) {
      // Answered by the 8 KiB bitset, which stays in the cache: the 768 KiB
      // table of mappings is read only for the characters that change.
      m.first_cjk = m.last_cjk = is_cjk(c);
      mapped = utf8.substr(at, i - at);
    } else if (c < 0x10000) {
      m = tab.bmp[static_cast<std::size_t>(c)];
      mapped = m.identity && !invalid ? utf8.substr(at, i - at) : std::string_view(tab.pool).substr(m.offset, m.length);
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
        hold(mapped, at, i - at);
        continue;
      }
    } else {
      flush(last_was_cjk && m.first_cjk);
      last_was_cjk = m.last_cjk;
    }
    b.emit(mapped, at, i - at);
    copy_run(i);
  }
  flush(false);
  drain(std::string_view(out.text), length);
}

}  // namespace

std::size_t NormalisedText::origin(std::size_t offset) const {
  auto it = std::upper_bound(shifts.begin(), shifts.end(), offset,
                             [](std::size_t o, const std::pair<std::size_t, std::ptrdiff_t>& s) { return o < s.first; });
  const std::ptrdiff_t shift = it == shifts.begin() ? 0 : std::prev(it)->second;
  return static_cast<std::size_t>(static_cast<std::ptrdiff_t>(offset) + shift);
}

NormalisedText normalise_for_keywords(std::string_view utf8) {
  NormalisedText out;
  normalise(utf8, out, true, std::numeric_limits<std::size_t>::max(),
            [](std::string_view, std::size_t) { return true; });
  return out;
}

struct KeywordMatcher::Impl {
  struct Term {
    std::string list, term;
    std::size_t length = 0;  // of its normalised form: where a match starts
  };
  std::vector<Term> terms;
  std::size_t longest = 0;  // normalised term
  hs_database_t* db = nullptr;
  // Scratch space is per scan: a spare one is taken, or cloned from the
  // prototype (never scanned with itself), so that scans run side by side.
  hs_scratch_t* prototype = nullptr;
  mutable std::vector<hs_scratch_t*> spare;
  mutable std::mutex spare_mutex;

  ~Impl() {
    for (hs_scratch_t* s : spare) hs_free_scratch(s);
    if (prototype != nullptr) hs_free_scratch(prototype);
    if (db != nullptr) hs_free_database(db);
  }

  class ScratchLease;

  // What the scan of a text, or of a part of one, found: the first match
  // by its end, as offsets in the normalised text.
  struct PartScan {
    bool hit = false;
    unsigned id = 0;
    std::size_t to = 0;             // just past the match
    std::size_t hit_input_end = 0;  // the input prefix whose normalised form holds it
  };
  // Scans utf8 from its start, stopping at the first match, or once a match
  // that starts before input offset region_end would have ended.
  PartScan scan(std::string_view utf8, std::size_t region_end) const;
  // Where the match is in utf8, the text scan() was given.
  KeywordHit hit_in(std::string_view utf8, const PartScan& scan) const;
};

// One scratch space, for the length of one scan.
class KeywordMatcher::Impl::ScratchLease {
 public:
  explicit ScratchLease(const Impl& impl) : impl_(impl) {
    std::lock_guard<std::mutex> guard(impl_.spare_mutex);
    if (!impl_.spare.empty()) {
      scratch_ = impl_.spare.back();
      impl_.spare.pop_back();
    } else if (hs_clone_scratch(impl_.prototype, &scratch_) != HS_SUCCESS) {
      std::abort();  // out of memory
    }
  }
  ~ScratchLease() {
    std::lock_guard<std::mutex> guard(impl_.spare_mutex);
    impl_.spare.push_back(scratch_);
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  hs_scratch_t* get() const { return scratch_; }

 private:
  const Impl& impl_;
  hs_scratch_t* scratch_ = nullptr;
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
      impl->terms.push_back({list.name, term, n.size()});
      impl->longest = std::max(impl->longest, n.size());
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
    flags.push_back(0);  // literals: a match starts the term's normalised length before its end
  }
  hs_compile_error_t* error = nullptr;
  // Streaming mode: the text is normalised and scanned a piece at a time,
  // and a term that straddles two pieces still matches.
  if (hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(),
                           static_cast<unsigned>(expressions.size()), HS_MODE_STREAM, nullptr, &impl->db,
                           &error) != HS_SUCCESS) {
    std::string why = error != nullptr && error->message != nullptr ? error->message : "unknown error";
    if (error != nullptr && error->expression >= 0) {
      const Impl::Term& t = impl->terms[static_cast<std::size_t>(error->expression)];
      why = "keyword list '" + t.list + "', term '" + t.term + "': " + why;
    }
    hs_free_compile_error(error);
    return make_error(Errc::invalid_argument, "keyword lists do not compile: " + why);
  }
  if (hs_alloc_scratch(impl->db, &impl->prototype) != HS_SUCCESS) {
    return make_error(Errc::internal, "keyword matcher: no scratch space");
  }
  return KeywordMatcher(std::move(impl));
}

std::size_t KeywordMatcher::term_count() const { return impl_->terms.size(); }

KeywordMatcher::Impl::PartScan KeywordMatcher::Impl::scan(std::string_view utf8, std::size_t region_end) const {
  PartScan r;
  auto on_match = [](unsigned id, unsigned long long, unsigned long long to, unsigned, void* ctx) -> int {
    auto* found = static_cast<PartScan*>(ctx);
    found->hit = true;
    found->id = id;
    found->to = static_cast<std::size_t>(to);
    return 1;  // the first match (by its end) is enough: stop
  };
  const ScratchLease scratch(*this);
  hs_stream_t* stream = nullptr;
  if (hs_open_stream(db, 0, &stream) != HS_SUCCESS) std::abort();  // out of memory
  // Errors other than a stop on a match come only from a misuse of the API: a bug.
  auto check = [](hs_error_t rc) {
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) std::abort();
  };
  // Past region_end, a match that starts in the region ends within
  // (longest term - 1) more bytes of normalised text.
  bool past_region = false;
  std::size_t scanned_past = 0;
  NormalisedText n;
  normalise(utf8, n, false, kPiece, [&](std::string_view piece, std::size_t input_end) {
    // hs_scan_stream takes an unsigned length: a piece is normally near
    // kPiece, but held white space is flushed at once.
    constexpr std::size_t kMaxSlice = std::size_t{1} << 30;
    for (std::size_t k = 0; k < piece.size() && !r.hit; k += kMaxSlice) {
      const std::size_t slice = std::min(kMaxSlice, piece.size() - k);
      check(hs_scan_stream(stream, piece.data() + k, static_cast<unsigned>(slice), 0, scratch.get(), on_match, &r));
    }
    r.hit_input_end = input_end;
    if (past_region) scanned_past += piece.size();
    past_region = past_region || input_end >= region_end;
    return !r.hit && !(past_region && scanned_past + 1 >= longest);
  });
  check(hs_close_stream(stream, scratch.get(), r.hit ? nullptr : +on_match, &r));
  return r;
}

KeywordHit KeywordMatcher::Impl::hit_in(std::string_view utf8, const PartScan& scan) const {
  const Term& t = terms[scan.id];
  // Normalise the input up to the piece that held the match once more,
  // keeping offsets, to say where it is.
  const std::size_t from = scan.to - t.length;
  return KeywordHit{t.list, t.term, normalise_for_keywords(utf8.substr(0, scan.hit_input_end)).origin(from)};
}

std::optional<KeywordHit> KeywordMatcher::first_hit(std::string_view utf8) const {
  if (impl_->db == nullptr) return std::nullopt;
  const Impl::PartScan scan = impl_->scan(utf8, utf8.size());
  if (!scan.hit) return std::nullopt;
  return impl_->hit_in(utf8, scan);
}

namespace {

// The first offset at or after `from` (and before from + within) where
// normalisation starts afresh: right after a character that is neither
// white space nor ignorable and does not end in a CJK character. There the
// CJK-spacing rule holds nothing back and looks back at nothing, so the
// normalised text from there on is the normalisation of the rest on its
// own. The text's length if there is none.
std::size_t fresh_start(std::string_view utf8, std::size_t from, std::size_t within) {
  const Table& tab = table();
  const auto* s = reinterpret_cast<const std::uint8_t*>(utf8.data());
  const std::size_t length = utf8.size();
  // U8_NEXT takes only continuation bytes after a lead byte: any other
  // byte starts a character.
  std::size_t i = from;
  while (i < length && (s[i] & 0xC0) == 0x80) ++i;
  const std::size_t end = std::min(length, from + within);
  while (i < end) {
    if (s[i] < 0x80) {
      if (!is_ascii_space(s[i++])) return i;
      continue;
    }
    const UChar32 c = next_code_point(s, i, length);
    if (c < 0) return i;  // U+FFFD: neither space nor CJK
    if (c < 0x10000) {
      const Mapping& m = tab.bmp[static_cast<std::size_t>(c)];
      if (m.length > 0 && !m.all_space && !m.last_cjk) return i;
    }
  }
  return length;
}

// Below this many bytes a part is not worth a thread.
constexpr std::size_t kMinPart = std::size_t{1} << 20;

}  // namespace

std::optional<KeywordHit> KeywordMatcher::first_hit(std::string_view utf8, unsigned threads) const {
  if (impl_->db == nullptr) return std::nullopt;
  const std::size_t parts_wanted = std::min<std::size_t>(threads, utf8.size() / kMinPart);
  std::vector<std::size_t> cuts{0};
  for (std::size_t k = 1; k < parts_wanted; ++k) {
    const std::size_t cut = fresh_start(utf8, utf8.size() / parts_wanted * k, kMinPart);
    if (cut > cuts.back() && cut < utf8.size()) cuts.push_back(cut);
  }
  if (cuts.size() == 1) return first_hit(utf8);
  cuts.push_back(utf8.size());
  // Part k is scanned from its cut, on past the next cut until a match that
  // starts before it would have ended: every match is found by the part it
  // starts in, so the first part with a hit has the first hit.
  std::vector<Impl::PartScan> scans(cuts.size() - 1);
  auto scan_part = [&](std::size_t k) { scans[k] = impl_->scan(utf8.substr(cuts[k]), cuts[k + 1] - cuts[k]); };
  {
    std::vector<std::jthread> workers;  // joined on the way out, whatever happens
    workers.reserve(scans.size());
    std::vector<std::size_t> not_started;
    for (std::size_t k = 1; k < scans.size(); ++k) {
      try {
        workers.emplace_back(scan_part, k);
      } catch (const std::system_error&) {
        not_started.push_back(k);  // no thread to be had: this one does it
      }
    }
    scan_part(0);
    for (std::size_t k : not_started) scan_part(k);
  }
  for (std::size_t k = 0; k < scans.size(); ++k) {
    if (scans[k].hit) {
      KeywordHit hit = impl_->hit_in(utf8.substr(cuts[k]), scans[k]);
      hit.offset += cuts[k];
      return hit;
    }
  }
  return std::nullopt;
}

}  // namespace ferry::pipeline

// The anti-replay window of RFC 4303 §3.4.3 (and its Appendix A) on the
// link's 64-bit sequence numbers: a frame is fresh if its sequence is above
// the highest seen, or within the last kSize and not seen yet. check() comes
// before the seal is opened (cheap refusal); mark() only after it opened, so
// that a forged frame cannot move the window.
#pragma once

#include <array>
#include <cstdint>

namespace ferry::link {

class ReplayWindow {
 public:
  static constexpr std::uint64_t kSize = 1024;
  enum class Verdict { fresh, replay, too_old };

  // Sequence 0 is never sent, so it is always too old.
  Verdict check(std::uint64_t sequence) const;
  void mark(std::uint64_t sequence);
  std::uint64_t highest() const { return top_; }

 private:
  bool bit(std::uint64_t sequence) const;
  std::uint64_t top_ = 0;
  std::array<std::uint64_t, kSize / 64> bits_{};
};

}  // namespace ferry::link

#include "ferry/link/replay_window.h"

#include <cassert>

namespace ferry::link {

bool ReplayWindow::bit(std::uint64_t sequence) const {
  const std::uint64_t i = sequence % kSize;
  return (bits_[i / 64] >> (i % 64)) & 1u;
}

ReplayWindow::Verdict ReplayWindow::check(std::uint64_t sequence) const {
  if (sequence == 0) return Verdict::too_old;
  if (sequence > top_) return Verdict::fresh;
  if (top_ - sequence >= kSize) return Verdict::too_old;
  return bit(sequence) ? Verdict::replay : Verdict::fresh;
}

void ReplayWindow::mark(std::uint64_t sequence) {
  assert(check(sequence) == Verdict::fresh);
  if (sequence > top_) {
    // Clear the bits of the sequences the window slides over.
    if (sequence - top_ >= kSize) {
      bits_.fill(0);
    } else {
      for (std::uint64_t s = top_ + 1; s < sequence; ++s) {
        const std::uint64_t i = s % kSize;
        bits_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
      }
    }
    top_ = sequence;
  }
  const std::uint64_t i = sequence % kSize;
  bits_[i / 64] |= std::uint64_t{1} << (i % 64);
}

}  // namespace ferry::link

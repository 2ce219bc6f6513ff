// The timing rule of ferry's small benchmark drivers: run a body three
// times and keep the fastest, since these machines are shared and a run is
// only ever slowed down by its neighbours, never sped up.
#pragma once

#include <algorithm>
#include <chrono>

namespace ferry::bench {

template <typename F>
double best_of_3(F&& f) {
  double best = 1e9;
  for (int r = 0; r < 3; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace ferry::bench

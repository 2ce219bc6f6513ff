// What every end-to-end test checks at the end: each planned file is in its
// channel's deliver folder exactly once, byte-identical, and nothing else is.
#pragma once

#include <string>
#include <vector>

#include "tests/integration/two_sides.h"

namespace ferry::test {

struct Planned {
  std::string channel;
  std::string path;  // relative to the inbox and the outbox
  std::string sm3;   // hex
};

// Regular, non-hidden files under dir.
std::size_t count_files(const std::string& dir);
// At least as many files in each channel's deliver folder as planned.
bool all_arrived(TwoSides& sides, const std::vector<Planned>& plan);
// GoogleTest failures naming each missing, differing or extra file.
void expect_exactly(TwoSides& sides, const std::vector<Planned>& plan);
// Names an e-government user would drop: Chinese, spaces, subdirectories.
std::string name_for(std::size_t i);

}  // namespace ferry::test

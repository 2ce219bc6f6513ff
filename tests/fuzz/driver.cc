// Runs a libFuzzer-style target without libFuzzer, so every fuzz target is
// also an ordinary test that GCC builds and ctest runs (under ASan+UBSan in
// the sanitizer build): each file named on the command line is fed as is,
// then a fixed number of seeded random mutations of them. With clang,
// -DFERRY_FUZZ=ON links the same targets against real libFuzzer instead.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::vector<std::uint8_t>> seeds;
  long iterations = 20000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--iterations=", 0) == 0) {
      iterations = std::strtol(arg.c_str() + 13, nullptr, 10);
      continue;
    }
    std::ifstream in(arg, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "fuzz driver: cannot read %s\n", arg.c_str());
      return 2;
    }
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (seeds.empty()) seeds.emplace_back();
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());

  std::mt19937_64 rng(0x6665727279);  // fixed: a failure reproduces
  for (long i = 0; i < iterations; ++i) {
    std::vector<std::uint8_t> input = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0:  // flip a bit
          if (!input.empty()) input[rng() % input.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 1:  // overwrite a byte
          if (!input.empty()) input[rng() % input.size()] = static_cast<std::uint8_t>(rng());
          break;
        case 2:  // insert a byte
          input.insert(input.begin() + static_cast<std::ptrdiff_t>(input.empty() ? 0 : rng() % (input.size() + 1)),
                       static_cast<std::uint8_t>(rng()));
          break;
        case 3:  // truncate
          if (!input.empty()) input.resize(rng() % input.size());
          break;
      }
    }
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("fuzz driver: %zu seeds, %ld mutated inputs, no crash\n", seeds.size(), iterations);
  return 0;
}

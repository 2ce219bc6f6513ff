// Byte helpers the tests share: vectors are written as hex, the way the
// standards print them, and random inputs come from a seeded generator so a
// failure reproduces exactly.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include "crypto/bytes.h"

namespace ferry::test {

using crypto::ByteView;
using crypto::Bytes;

// A malformed vector is a mistake in the test itself, so it throws and the
// test case fails loudly rather than comparing against garbage.
inline Bytes hex(std::string_view h) {
  std::optional<Bytes> b = crypto::from_hex(h);
  if (!b) throw std::invalid_argument("malformed hex in a test vector: " + std::string(h));
  return *b;
}

template <std::size_t N>
std::array<std::uint8_t, N> hex_array(std::string_view h) {
  Bytes b = hex(h);
  if (b.size() != N) throw std::invalid_argument("test vector has the wrong length: " + std::string(h));
  std::array<std::uint8_t, N> out;
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

// Lower-case hex of anything byte-like, so that a failed comparison prints
// both sides readably.
inline std::string hex_of(ByteView bytes) { return crypto::to_hex(bytes); }

inline std::string lower(std::string_view h) {
  std::string out(h);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

inline Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

inline Bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> random_array(std::mt19937_64& rng) {
  std::array<std::uint8_t, N> out;
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

}  // namespace ferry::test

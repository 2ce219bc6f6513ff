// Big-endian field writers and readers for the link's formats. A Reader never
// reads past its input: the first short read latches failure, every later read
// returns zero, and the caller checks ok() once at the end.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/bytes.h"

namespace ferry::link::wire {

using crypto::ByteView;
using crypto::Bytes;

inline void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t get_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    std::uint8_t b[2];
    put_u16(b, v);
    out_.insert(out_.end(), b, b + 2);
  }
  void u32(std::uint32_t v) {
    std::uint8_t b[4];
    put_u32(b, v);
    out_.insert(out_.end(), b, b + 4);
  }
  void u64(std::uint64_t v) {
    std::uint8_t b[8];
    put_u64(b, v);
    out_.insert(out_.end(), b, b + 8);
  }
  void bytes(ByteView v) { out_.insert(out_.end(), v.begin(), v.end()); }
  void bytes(std::string_view v) { bytes(crypto::as_bytes(v)); }

 private:
  Bytes& out_;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}

  std::uint8_t u8() { return take(1) ? in_[pos_ - 1] : 0; }
  std::uint16_t u16() { return take(2) ? get_u16(in_.data() + pos_ - 2) : 0; }
  std::uint32_t u32() { return take(4) ? get_u32(in_.data() + pos_ - 4) : 0; }
  std::uint64_t u64() { return take(8) ? get_u64(in_.data() + pos_ - 8) : 0; }
  ByteView bytes(std::size_t n) { return take(n) ? in_.subspan(pos_ - n, n) : ByteView{}; }
  template <std::size_t N>
  void array(std::array<std::uint8_t, N>& out) {
    ByteView b = bytes(N);
    if (ok_) std::copy(b.begin(), b.end(), out.begin());
  }
  std::string string(std::size_t n) {
    ByteView b = bytes(n);
    return std::string(b.begin(), b.end());
  }

  bool ok() const { return ok_; }
  // Everything was read and nothing was missing: the only acceptable end of a body.
  bool exhausted() const { return ok_ && pos_ == in_.size(); }

 private:
  bool take(std::size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  ByteView in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace ferry::link::wire

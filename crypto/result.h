// Results of operations whose failure is an expected outcome (hostile input,
// a bad key file, a forged signature). Bugs are not results: they assert.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ferry::crypto {

enum class Errc {
  invalid_argument,  // caller handed a malformed value (wrong length, empty ID)
  bad_key,           // not a usable SM2 key: wrong algorithm, curve, or encoding
  bad_format,        // malformed PEM, DER or ciphertext framing
  verify_failed,     // signature, tag or confirmation value does not match
  decrypt_failed,    // ciphertext rejected; deliberately says no more than that
  io,                // a file could not be read or written
  rng,               // the random generator failed its health check
  exhausted,         // a key's nonce space or a length limit is used up
  selftest_failed,   // a known-answer or consistency test failed
  internal,          // the library below us reported an error we did not expect
};

struct Error {
  Errc code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_{Errc::internal, {}};
  bool ok_ = true;
};

using Status = Result<void>;

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace ferry::crypto

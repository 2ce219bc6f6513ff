#include "ferry/spool/applied_serial.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include "ferry/fs/durable_file.h"

namespace ferry::spool {

namespace {

using crypto::Errc;
using crypto::make_error;

constexpr std::string_view kHeader = "ferry-policy-serial/1\n";
// The header, 20 digits and a newline; a larger file is not ours.
constexpr std::size_t kMaxFileSize = 64;

}  // namespace

crypto::Result<AppliedSerial> AppliedSerial::open(const std::string& spool_dir) {
  std::string path = spool_dir + "/" + kFileName;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return AppliedSerial(std::move(path), std::nullopt);
    return make_error(Errc::io, path + ": " + std::strerror(errno));
  }
  crypto::Result<crypto::Bytes> bytes = fs::read_file(path, kMaxFileSize);
  if (!bytes.ok()) return make_error(Errc::io, path + ": " + bytes.error().message);
  const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  const std::string damaged = path + ": damaged record of the highest policy serial applied (expected \"" +
                              std::string(kHeader.substr(0, kHeader.size() - 1)) +
                              "\" and a decimal serial); refusing to guess. Restore it, or write the serial of "
                              "the newest policy this side has run";
  if (text.size() <= kHeader.size() || !text.starts_with(kHeader) || !text.ends_with('\n')) {
    return make_error(Errc::bad_format, damaged);
  }
  const std::string_view digits = text.substr(kHeader.size(), text.size() - kHeader.size() - 1);
  policy::Serial serial = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), serial);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
      (digits.size() > 1 && digits.front() == '0')) {
    return make_error(Errc::bad_format, damaged);
  }
  return AppliedSerial(std::move(path), serial);
}

crypto::Status AppliedSerial::check(policy::Serial serial) const {
  if (!highest_ || serial >= *highest_) return {};
  return make_error(Errc::verify_failed, "policy serial " + std::to_string(serial) + " is lower than serial " +
                                             std::to_string(*highest_) + ", the highest this side has applied (" +
                                             path_ + "); rollback refused");
}

crypto::Status AppliedSerial::record(policy::Serial serial) {
  if (highest_ && serial <= *highest_) return {};
  const std::string text = std::string(kHeader) + std::to_string(serial) + "\n";
  if (crypto::Status s = fs::replace_file(path_, crypto::as_bytes(text), 0600); !s.ok()) return s;
  highest_ = serial;
  return {};
}

}  // namespace ferry::spool

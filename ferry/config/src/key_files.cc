#include "ferry/config/src/key_files.h"
#include "ferry/fs/fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "crypto/sm2.h"
#include "ferry/config/config.h"

namespace ferry::config::detail {
namespace {

struct KeyFile {
  crypto::SecretBytes bytes;
  mode_t mode = 0;
};

using fs::Fd;

// Only a regular file is read: a FIFO or a device named in a hostile config
// must not block the loader or stream into it. O_NONBLOCK keeps even the
// open of a FIFO from waiting for a writer.
KeyCheck read_key_file(const std::string& path, KeyFile& out) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    const int err = errno;
    KeyCheck c{std::nullopt, "cannot read " + path + ": " + std::strerror(err), ""};
    if (err == ENOENT) c.hint = "create the key pair with: ferryctl keygen --out PREFIX";
    return c;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return {std::nullopt, "cannot stat " + path + ": " + std::strerror(errno), ""};
  if (!S_ISREG(st.st_mode)) return {std::nullopt, path + " is not a regular file", ""};
  if (static_cast<std::uint64_t>(st.st_size) > kMaxKeyFileSize) {
    return {std::nullopt, path + " is larger than " + std::to_string(kMaxKeyFileSize) + " bytes; not a key file", ""};
  }
  out.mode = st.st_mode;
  crypto::SecretBytes buf(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::read(fd.get(), buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {std::nullopt, "cannot read " + path + ": " + std::strerror(errno), ""};
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.bytes = crypto::SecretBytes(buf.view().first(done));
  return {};
}

std::string_view text_of(const crypto::SecretBytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

KeyCheck check_private_key_file(const std::string& path) {
  KeyFile file;
  if (KeyCheck c = read_key_file(path, file); !c.message.empty()) return c;
  const std::string_view text = text_of(file.bytes);
  if (text.find("BEGIN PUBLIC KEY") != std::string_view::npos && text.find("PRIVATE KEY") == std::string_view::npos) {
    return {std::nullopt, path + " is a public key; identity.key needs this side's private key",
            "give the PREFIX.key that ferryctl keygen wrote; its .pub goes in the other side's identity.peer"};
  }
  if ((file.mode & 077) != 0) {
    return {std::nullopt,
            path + " has mode " + octal_mode(file.mode) + "; a private key must not be accessible by group or others",
            "chmod 600 " + path};
  }
  crypto::Result<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::from_pem(text);
  if (!key.ok()) {
    return {std::nullopt, path + ": " + key.error().message,
            "an unencrypted SM2 private key on sm2p256v1, as ferryctl keygen writes"};
  }
  return {key->public_point(), "", ""};
}

KeyCheck check_public_key_file(const std::string& path) {
  KeyFile file;
  if (KeyCheck c = read_key_file(path, file); !c.message.empty()) return c;
  crypto::Result<crypto::Sm2PublicKey> key = crypto::Sm2PublicKey::from_pem(text_of(file.bytes));
  if (!key.ok()) {
    KeyCheck c{std::nullopt, path + ": " + key.error().message, "an SM2 public key (BEGIN PUBLIC KEY), as ferryctl keygen writes to PREFIX.pub"};
    if (text_of(file.bytes).find("PRIVATE KEY") != std::string_view::npos) {
      c.hint = "this file holds a private key: copy only the .pub file here, and protect the .key";
    }
    return c;
  }
  return {key->point(), "", ""};
}

}  // namespace ferry::config::detail

// The key files a config names, checked the way the daemon will use them, so
// that a bad key is a start-up message with the config's line and key rather
// than a failure halfway through a handshake.
#pragma once

#include <optional>
#include <string>

#include "crypto/bytes.h"

namespace ferry::config::detail {

struct KeyCheck {
  std::optional<crypto::Bytes> point;  // the public point (04 || x || y) when the key is good
  std::string message;                 // otherwise what is wrong
  std::string hint;
};

// A regular file, not accessible by group or others (like OpenSSH's
// "UNPROTECTED PRIVATE KEY FILE"), holding an unencrypted SM2 private key.
KeyCheck check_private_key_file(const std::string& path);

// A regular file holding an SM2 public key (SubjectPublicKeyInfo PEM).
KeyCheck check_public_key_file(const std::string& path);

}  // namespace ferry::config::detail

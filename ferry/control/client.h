// ferryctl's end of the control socket: connects, reads the daemon's Hello,
// and sends requests, signing the changes with an officer's key.
#pragma once

#include <chrono>
#include <string>

#include "crypto/result.h"
#include "crypto/sm2.h"
#include "ferry/control/protocol.h"
#include "ferry/fs/fd.h"

namespace ferry::control {

class ControlClient {
 public:
  // Errors say where ferryd was looked for ("cannot reach ferryd at PATH: is
  // it running? ..."). `timeout` bounds each wait for the daemon.
  static crypto::Result<ControlClient> connect(const std::string& socket_path,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(60));

  const Hello& hello() const { return hello_; }

  // Fills side (the daemon's, from its Hello), challenge (the latest one
  // given), issued_ms (now), key and signature (SM2 over signed_text() with
  // the default ID), then sends the request and waits for the reply. With
  // `key` null the request goes unsigned. Errors are transport and protocol
  // failures; a refusal is a Reply with ok false.
  crypto::Result<Reply> call(Request request, const crypto::Sm2PrivateKey* key);

  // One raw exchange: a body out, the reply's body back (for tests and
  // tools that need to send exactly these bytes).
  crypto::Result<std::string> exchange(std::string_view body);

 private:
  ControlClient(fs::Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  crypto::Result<std::string> read_frame();

  fs::Fd fd_;
  std::string path_;
  Hello hello_;
  std::string challenge_;
};

}  // namespace ferry::control

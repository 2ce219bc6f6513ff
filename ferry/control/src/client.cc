#include "ferry/control/client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/bytes.h"
#include "policy/signature.h"

namespace ferry::control {

using crypto::Errc;
using crypto::make_error;
using crypto::Result;

namespace {

Result<void> write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return make_error(Errc::io, "ferryd at " + path + " stopped reading");
      return make_error(Errc::io, "ferryd at " + path + " closed the connection (" + std::strerror(errno) + ")");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> read_all(int fd, char* out, std::size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, out, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return make_error(Errc::io, "ferryd at " + path + " did not answer in time");
    }
    if (n < 0) return make_error(Errc::io, "reading from ferryd at " + path + ": " + std::strerror(errno));
    if (n == 0) return make_error(Errc::io, "ferryd at " + path + " closed the connection");
    out += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

Result<ControlClient> ControlClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
    return make_error(Errc::invalid_argument, "'" + socket_path + "' cannot be a control socket path (too long or empty)");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  fs::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return make_error(Errc::io, std::string("cannot create a UNIX socket: ") + std::strerror(errno));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    if (e == EACCES || e == EPERM) {
      return make_error(Errc::io, "cannot reach ferryd at " + socket_path +
                                      ": permission denied (the control socket is for the user ferryd runs as)");
    }
    return make_error(Errc::io, "cannot reach ferryd at " + socket_path + ": is it running? (" + std::strerror(e) + ")");
  }
  ControlClient client(std::move(fd), socket_path);
  Result<std::string> body = client.read_frame();
  if (!body.ok()) return body.error();
  Result<Hello> hello = decode_hello(*body);
  if (!hello.ok()) {
    // A daemon at its connection limit answers with a refusal instead.
    Result<Reply> busy = decode_reply(*body);
    if (busy.ok()) return make_error(Errc::io, "ferryd at " + socket_path + " refused (" + busy->code + "): " + busy->message);
    return make_error(Errc::bad_format, "ferryd at " + socket_path + " sent a bad greeting: " + hello.error().message);
  }
  client.hello_ = std::move(*hello);
  client.challenge_ = client.hello_.challenge;
  return client;
}

Result<std::string> ControlClient::read_frame() {
  std::uint8_t header[kFrameHeaderSize];
  if (Result<void> r = read_all(fd_.get(), reinterpret_cast<char*>(header), sizeof header, path_); !r.ok()) {
    return r.error();
  }
  Result<std::size_t> size = frame_body_size(header);
  if (!size.ok()) return make_error(Errc::bad_format, "ferryd at " + path_ + ": " + size.error().message);
  std::string body(*size, '\0');
  if (Result<void> r = read_all(fd_.get(), body.data(), body.size(), path_); !r.ok()) return r.error();
  return body;
}

Result<std::string> ControlClient::exchange(std::string_view body) {
  if (body.size() > kMaxBody) return make_error(Errc::invalid_argument, "request larger than 1 MiB");
  if (Result<void> r = write_all(fd_.get(), frame(body), path_); !r.ok()) return r.error();
  return read_frame();
}

Result<Reply> ControlClient::call(Request request, const crypto::Sm2PrivateKey* key) {
  request.side = hello_.side;
  request.issued_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  request.key.clear();
  request.signature.clear();
  request.challenge.clear();
  if (key != nullptr) {
    request.challenge = challenge_;
    request.key = policy::fingerprint(key->public_key());
    Result<crypto::Bytes> signature = crypto::sm2_sign(*key, crypto::as_bytes(signed_text(request)));
    if (!signature.ok()) return make_error(signature.error().code, "cannot sign the request: " + signature.error().message);
    request.signature = crypto::to_hex(*signature);
  }
  Result<std::string> body = exchange(encode(request));
  if (!body.ok()) return body.error();
  Result<Reply> reply = decode_reply(*body);
  if (!reply.ok()) return make_error(Errc::bad_format, "ferryd at " + path_ + " sent a bad reply: " + reply.error().message);
  if (!reply->next_challenge.empty()) challenge_ = reply->next_challenge;
  return reply;
}

}  // namespace ferry::control

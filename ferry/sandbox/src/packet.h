// One SOCK_SEQPACKET message with up to two descriptors (SCM_RIGHTS): the
// transport under wire.h, shared by the worker and its client.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/fs/fd.h"
#include "ferry/sandbox/wire.h"

namespace ferry::sandbox::detail {

inline constexpr std::size_t kMaxFds = 2;

// 0 on success, else errno. MSG_NOSIGNAL: a dead peer is an error, not SIGPIPE.
inline int send_packet(int sock, std::string_view bytes, std::initializer_list<int> fds = {}) {
  struct iovec iov {
    const_cast<char*>(bytes.data()), bytes.size()
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (fds.size() > 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.begin(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n) == bytes.size() ? 0 : EMSGSIZE;
    if (errno != EINTR) return errno;
  }
}

struct Packet {
  std::string bytes;
  std::vector<fs::Fd> fds;
};

// 0 with a packet; ECONNRESET for end of stream; EMSGSIZE for a truncated
// packet or control data; else errno. Descriptors beyond kMaxFds, or
// anything but SCM_RIGHTS, make the packet an error (and are closed).
inline int receive_packet(int sock, Packet& out) {
  out.bytes.assign(kMaxMessage + 1, '\0');
  out.fds.clear();
  struct iovec iov {
    out.bytes.data(), out.bytes.size()
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  for (;;) {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0 || errno != EINTR) break;
  }
  if (n < 0) return errno;
  bool bad = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      bad = true;
      continue;
    }
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.emplace_back(fd);
    }
  }
  if (n == 0 && out.fds.empty()) return ECONNRESET;
  if (bad || out.fds.size() > kMaxFds || static_cast<std::size_t>(n) > kMaxMessage) return EMSGSIZE;
  out.bytes.resize(static_cast<std::size_t>(n));
  return 0;
}

}  // namespace ferry::sandbox::detail

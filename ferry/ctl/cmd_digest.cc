// ferryctl digest: SM3 of files, printed like sha256sum ("HEX  NAME").
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/selftest.h"
#include "crypto/sm3.h"
#include "ferry/ctl/cli.h"

namespace ferry::ctl {

namespace {
constexpr char kHelp[] =
    "usage: ferryctl digest FILE...\n"
    "\n"
    "Prints the SM3 digest (GM/T 0004) of each FILE as 'HEX  NAME', the format\n"
    "of sha256sum. '-' reads standard input. Files are read in pieces, so any\n"
    "size works. A file that cannot be read is reported on stderr and the rest\n"
    "are still digested; the exit status is then 2.\n";

// Streams a file descriptor through SM3 in 256 KiB pieces.
crypto::Result<crypto::Sm3Digest> digest_fd(int fd, const std::string& name) {
  static std::uint8_t buf[256 * 1024];
  crypto::Sm3 sm3;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return crypto::make_error(crypto::Errc::io, name + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    sm3.update(crypto::ByteView(buf, static_cast<std::size_t>(n)));
  }
  return sm3.finish();
}

// sha256sum's convention: a name with a backslash or newline is escaped and
// the line starts with a backslash, so every line stays one record.
std::string escaped_line(const std::string& hex, const std::string& name) {
  if (name.find_first_of("\\\n") == std::string::npos) return hex + "  " + name;
  std::string esc;
  for (char c : name) {
    if (c == '\\') esc += "\\\\";
    else if (c == '\n') esc += "\\n";
    else esc += c;
  }
  return "\\" + hex + "  " + esc;
}
}  // namespace

int cmd_digest(std::span<char* const> args) {
  crypto::Result<ParsedArgs> parsed = parse_options(args, {});
  if (!parsed.ok()) return usage_error("digest", parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.empty()) return usage_error("digest", "no FILE given (use '-' for standard input)");
  crypto::require_power_on_selftests();

  int status = kExitOk;
  for (const std::string& name : parsed->positional) {
    int fd = name == "-" ? STDIN_FILENO : ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      status = usage_error("digest", name + ": " + std::strerror(errno));
      continue;
    }
    crypto::Result<crypto::Sm3Digest> d = digest_fd(fd, name);
    if (fd != STDIN_FILENO) ::close(fd);
    if (!d.ok()) {
      status = usage_error("digest", d.error().message);
      continue;
    }
    std::printf("%s\n", escaped_line(crypto::to_hex(*d), name).c_str());
  }
  return status;
}

}  // namespace ferry::ctl

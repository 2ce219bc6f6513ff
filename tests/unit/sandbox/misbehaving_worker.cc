// ferry-test-worker: the real worker (serve_worker, the real examiner, the
// real confinement) except for objects whose names ask it to misbehave, as
// a parser exploited or broken by a hostile file would:
//
//   loop.*       spins forever                     -> worker.timeout
//   segv.*       dereferences a wild pointer        -> worker.crash (SIGSEGV)
//   hog.*        allocates until it cannot           -> worker.crash (out of memory)
//   fork.*       calls fork(2)                       -> worker.crash (SIGSYS, seccomp)
//   exit.*       exits in the middle of a request    -> worker.crash
//   lie-type.*   accepts a text as a PDF             -> worker.bad_answer
//   lie-sm3.*    rebuilds, claims another SM3        -> worker.bad_answer
//   lie-seq.*    answers another request number     -> worker.bad_answer
//   probe.*      reports what the confinement lets it do, as reasons:
//                opening /etc/passwd, a TCP socket, its user id
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ferry/sandbox/serve.h"

namespace {

using ferry::sandbox::Answer;
using ferry::sandbox::Examiner;
using ferry::sandbox::Request;

bool named(const Request& r, const char* prefix) { return r.name.rfind(prefix, 0) == 0; }

Answer misbehave(const Examiner& examiner, const Request& r, std::string_view bytes, std::string* output) {
  if (named(r, "loop.")) {
    volatile unsigned long spin = 0;
    for (;;) spin = spin + 1;
  }
  if (named(r, "segv.")) {
    // A wild pointer the compiler cannot see through.
    static volatile std::uintptr_t address = 16;
    *reinterpret_cast<volatile int*>(address) = 1;
  }
  if (named(r, "hog.")) {
    std::vector<std::vector<char>> chunks;
    for (;;) chunks.emplace_back(std::size_t{64} << 20, 'x');  // touched: really used
  }
  if (named(r, "fork.")) (void)::fork();
  if (named(r, "exit.")) ::_exit(0);
  if (named(r, "probe.")) {
    Answer a;
    const int fd = ::open("/etc/passwd", O_RDONLY);
    a.reasons.push_back({"probe.open", fd >= 0 ? "opened" : std::strerror(errno)});
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    a.reasons.push_back({"probe.socket", s >= 0 ? "created" : std::strerror(errno)});
    a.reasons.push_back({"probe.uid", std::to_string(::getuid())});
    return a;
  }
  Answer a = examiner.examine(r.role, r.channel, r.name, bytes, output);
  if (named(r, "lie-type.")) a.type = "pdf";
  if (named(r, "lie-seq.")) a.seq = r.seq + 1;
  if (named(r, "lie-sm3.")) {
    *output = std::string(bytes) + "\n";
    a.has_output = true;
    a.output_size = output->size();
    a.output_sm3.fill(0x5a);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  int fd = 3;
  if (argc == 3 && std::strcmp(argv[1], "--fd") == 0) fd = std::atoi(argv[2]);
  // serve_worker sets seq from the request: lie-seq must survive that.
  return ferry::sandbox::serve_worker(fd, [](const Examiner& e, const Request& r, std::string_view b, std::string* o) {
    Answer a = misbehave(e, r, b, o);
    return a;
  });
}

// ferry-worker: the sandboxed inspection worker (ferry/sandbox/serve.h).
// ferryd and ferryctl start it with one end of a socketpair as descriptor 3;
// it has no other interface.
#include <cstdio>
#include <cstring>
#include <string>

#include "ferry/sandbox/serve.h"

int main(int argc, char** argv) {
  int fd = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
      fd = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "ferry-worker: started by ferryd and ferryctl with a socket as descriptor 3; "
                   "not meant to be run by hand\n");
      return 2;
    }
  }
  return ferry::sandbox::serve_worker(fd);
}

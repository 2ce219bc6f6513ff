// A broken invariant inside the link engine is a bug: say which and crash,
// so that the supervisor restarts the side (style.md, "Errors").
#pragma once

#include <cstdio>
#include <cstdlib>

#define FERRY_LINK_CHECK(cond, what)                                                        \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "ferry link: %s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
                   what);                                                                    \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

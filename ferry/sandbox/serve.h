// The worker's side of ferry/sandbox/wire.h: what `ferry-worker` runs.
//
//   1. read the setup and the policy document from the socket;
//   2. load the policy, the keyword matchers, libmagic, and the antivirus
//      engine when one is configured; run every kind of object once through
//      the examiner, so that data the libraries load lazily (ICU tables,
//      converters) is in memory before the file system goes away;
//   3. confine itself (confine.h) and say so (ready);
//   4. answer requests one at a time until ferryd closes the socket.
//
// Exit status: 0 when the socket closes, 2 when setup fails (ready says
// why), 3 on a protocol error, kExitOutOfMemory when an allocation fails
// (the address-space limit), which ferryd reports as such.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "ferry/sandbox/examine.h"
#include "ferry/sandbox/wire.h"

namespace ferry::sandbox {

inline constexpr int kExitOutOfMemory = 86;

// How one request is answered; the default calls Examiner::examine. Tests
// substitute a misbehaving one (a parser that loops, crashes or eats
// memory) to check the confinement and ferryd's handling of it.
using ExamineFn = std::function<Answer(const Examiner& examiner, const Request& request, std::string_view bytes,
                                       std::string* output)>;

int serve_worker(int socket_fd, const ExamineFn& examine = {});

}  // namespace ferry::sandbox

// Runs a program as a child process from an argv vector (posix_spawnp, no
// shell, so nothing in an argument is ever interpreted), feeds it stdin bytes,
// and collects stdout, stderr and how it ended, under a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ferry::test {

struct ProcessOutcome {
  bool started = false;    // false: the program could not be executed (see error)
  bool timed_out = false;  // killed with SIGKILL at the deadline
  int exit_code = -1;      // valid when exited
  bool exited = false;     // ended by exit(), not by a signal
  int signal = 0;          // the signal that ended it, when !exited
  std::string error;       // why it could not be started, or what went wrong while running it
  std::string out;
  std::string err;

  bool succeeded() const { return started && exited && exit_code == 0; }
  // "exit 1", "signal 9", "timed out after ...", "not started: ..."; for messages.
  std::string describe() const;
};

struct ProcessOptions {
  std::span<const std::uint8_t> stdin_bytes;
  std::chrono::milliseconds timeout{std::chrono::seconds(20)};
  std::string working_directory;  // empty: the caller's
};

// argv[0] is looked up on PATH when it has no slash.
ProcessOutcome run_process(const std::vector<std::string>& argv, const ProcessOptions& options);

// The absolute path of an executable named `name` on $PATH, as execvp would
// find it; nullopt when there is none.
std::optional<std::string> find_on_path(const std::string& name);

}  // namespace ferry::test

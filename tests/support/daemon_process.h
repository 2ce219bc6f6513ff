// A long-running child (a ferryd side) for integration tests: started with
// its output going to a log file, signalled, waited for with a deadline, and
// killed when the test object goes away, so no test leaves a process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ferry::test {

class DaemonProcess {
 public:
  DaemonProcess() = default;
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  DaemonProcess(DaemonProcess&& other) noexcept;
  DaemonProcess& operator=(DaemonProcess&& other) noexcept;

  // stdout and stderr are appended to log_path; stdin is /dev/null.
  static std::optional<DaemonProcess> start(const std::vector<std::string>& argv, const std::string& log_path,
                                            std::string* error = nullptr);

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // The exit status (or 128 + signal) if it ended within the timeout.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // SIGKILL and reap.
  void kill_now();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace ferry::test

// Helpers for multi-process tests: spawn heca-dsm node processes, capture their output,
// wait for them with a deadline, pick free loopback ports.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/loopback_ports.h"

namespace heca::tests {

using testing::ReservedPorts;

// A child process whose stdout and stderr go to one file. Killed (SIGKILL) if still running
// when destroyed.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& output_path);
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess& operator=(ChildProcess&&) = delete;

  // The exit code (128 + signal when killed by one), or nullopt if still running at deadline.
  std::optional<int> wait_until(std::chrono::steady_clock::time_point deadline);
  void kill_now();
  [[nodiscard]] std::string output() const;
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string output_path_;
  std::optional<int> status_;
};

// A fresh directory under /tmp.
std::string make_temp_dir();
// Polls `predicate` until it is true or the deadline passes.
bool poll_until(std::chrono::steady_clock::time_point deadline, auto predicate) {
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    struct timespec pause {
      0, 10'000'000
    };
    ::nanosleep(&pause, nullptr);
  }
  return true;
}

}  // namespace heca::tests

// Subprocess: runs a program to completion with captured stdout/stderr and a deadline.
// Used by tests and benchmarks that drive the real `heca` binary.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "kernel/base/result.h"

namespace heca::testing {

struct ProcessResult {
  int exit_code = -1;      // the exit status, or 128 + signal when killed by one
  bool timed_out = false;  // killed with SIGKILL at the deadline
  std::string out;
  std::string err;
};

// Runs `path args...` (no shell) and waits at most `timeout` for it.
[[nodiscard]] Result<ProcessResult> run_process(const std::string& path,
                                                const std::vector<std::string>& args,
                                                std::chrono::milliseconds timeout);

// The lines of `text` (split on '\n', a trailing newline ends the last line).
[[nodiscard]] std::vector<std::string> split_lines(const std::string& text);

}  // namespace heca::testing

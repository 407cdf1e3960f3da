// ChildProcess: one child program in its own process group, optionally inside a named network
// namespace, with stdout/stderr on pipes and a pidfd to learn when it ends.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "kernel/base/fd.h"
#include "kernel/base/result.h"

namespace heca::vmm::cluster {

// How a child ended.
struct ExitStatus {
  bool signaled = false;  // killed by a signal (value = signal) or exited (value = code)
  int value = 0;

  [[nodiscard]] bool success() const { return !signaled && value == 0; }
  // "exited with code 3" / "killed by signal 9"
  [[nodiscard]] std::string describe() const;
  // The shell convention: the code, or 128 + signal.
  [[nodiscard]] int shell_code() const { return signaled ? 128 + value : value; }
};

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string netns;              // a name under /run/netns, or empty for ours
};

// Not thread-safe; owned by one thread. The child gets SIGKILL if that thread exits first
// (PR_SET_PDEATHSIG), so an abandoned child never outlives its supervisor.
class ChildProcess {
 public:
  // Forks and execs; an exec or setns failure in the child is returned here, not later.
  [[nodiscard]] static Result<ChildProcess> spawn(const ChildSpec& spec);

  ChildProcess(ChildProcess&&) noexcept = default;
  ChildProcess& operator=(ChildProcess&&) noexcept = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills and reaps the child if it was not reaped yet.
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const Fd& pidfd() const { return pidfd_; }
  // Non-blocking read ends; the owner closes them (reset) at EOF.
  [[nodiscard]] Fd& stdout_pipe() { return out_; }
  [[nodiscard]] Fd& stderr_pipe() { return err_; }
  [[nodiscard]] bool reaped() const { return !pidfd_.valid(); }
  // Stops tracking a child that SIGKILL did not end (a thread stuck in the kernel): it is then
  // treated as reaped, and init reaps it once it ends.
  void abandon() { pidfd_.reset(); }

  // Sends `signo` to the child's whole process group (its own descendants included).
  void signal_group(int signo) const;
  // Collects the exit status; call once pidfd() is readable (or to block until it ends).
  [[nodiscard]] Result<ExitStatus> reap();

 private:
  ChildProcess(pid_t pid, Fd pidfd, Fd out, Fd err)
      : pid_(pid), pidfd_(std::move(pidfd)), out_(std::move(out)), err_(std::move(err)) {}

  pid_t pid_ = -1;
  Fd pidfd_;
  Fd out_;
  Fd err_;
};

struct CommandResult {
  ExitStatus status;
  std::string output;
};
// Runs `argv` to completion with posix_spawn (no shell), collecting stdout and stderr together.
[[nodiscard]] Result<CommandResult> run_command(const std::vector<std::string>& argv);

}  // namespace heca::vmm::cluster

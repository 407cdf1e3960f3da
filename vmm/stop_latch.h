// StopLatch: the one place a running VM's outcome is decided: the first finish() wins.
// The VMM thread waits on it, with an optional deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

namespace heca::vmm {

struct VmOutcome {
  int exit_code = 0;
  std::string message;  // empty for a normal guest exit
};

// THREADS: finish() from any thread (vCPU threads, devices); wait_*() from the VMM thread.
// LOCKING: mu_ guards outcome_.
class StopLatch {
 public:
  // Records `outcome` unless one is already recorded; returns whether it was recorded.
  bool finish(VmOutcome outcome);
  void wait();
  // False if `timeout` elapsed first.
  [[nodiscard]] bool wait_for(std::chrono::duration<double> timeout);
  [[nodiscard]] std::optional<VmOutcome> outcome() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::optional<VmOutcome> outcome_;  // GUARDED_BY(mu_)
};

}  // namespace heca::vmm

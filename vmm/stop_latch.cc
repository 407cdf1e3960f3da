#include "vmm/stop_latch.h"

namespace heca::vmm {

bool StopLatch::finish(VmOutcome outcome) {
  {
    const std::lock_guard lock(mu_);
    if (outcome_) return false;
    outcome_ = std::move(outcome);
  }
  done_.notify_all();
  return true;
}

void StopLatch::wait() {
  std::unique_lock lock(mu_);
  done_.wait(lock, [this] { return outcome_.has_value(); });
}

bool StopLatch::wait_for(std::chrono::duration<double> timeout) {
  std::unique_lock lock(mu_);
  return done_.wait_for(lock, timeout, [this] { return outcome_.has_value(); });
}

std::optional<VmOutcome> StopLatch::outcome() const {
  const std::lock_guard lock(mu_);
  return outcome_;
}

}  // namespace heca::vmm

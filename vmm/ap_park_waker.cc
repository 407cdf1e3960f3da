#include "vmm/ap_park_waker.h"

#include <algorithm>
#include <cstring>

namespace heca::vmm {

void ApParkWaker::watch(std::uint32_t apic_id, Vcpu& vcpu) {
  const std::lock_guard lock(mu_);
  parked_.push_back({.apic_id = apic_id, .vcpu = &vcpu});
}

void ApParkWaker::start() {
  thread_ = std::thread([this] { run(); });
}

void ApParkWaker::stop() {
  {
    const std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<std::uint32_t> ApParkWaker::awake() const {
  const std::lock_guard lock(mu_);
  return awake_;
}

void ApParkWaker::read(std::uint64_t /*offset*/, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), std::uint8_t{0});
}

void ApParkWaker::write(std::uint64_t /*offset*/, std::span<const std::uint8_t> data) {
  if (data.size() != sizeof(std::uint32_t)) return;
  std::uint32_t apic_id = 0;
  std::memcpy(&apic_id, data.data(), sizeof apic_id);
  const std::lock_guard lock(mu_);
  const auto it = std::find_if(parked_.begin(), parked_.end(),
                               [&](const Parked& p) { return p.apic_id == apic_id; });
  if (it == parked_.end()) return;  // not parked here (or a stray write): nothing to stop
  parked_.erase(it);
  awake_.push_back(apic_id);
}

// Rousing takes the vCPU out of KVM_RUN once per period while it is parked; a parked AP
// halts again right away, so this costs two exits per period and AP, and nothing after.
void ApParkWaker::run() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_ || parked_.empty(); })) {
    for (const Parked& p : parked_) p.vcpu->rouse();
  }
}

}  // namespace heca::vmm

// ApParkWaker: APs wait for the OS in the AP wakeup firmware's park loop halted (see
// firmware/ap_wakeup.h). This rouses every local AP that is still parked every `period`, so it
// checks the mailbox again, until the AP reports at kApAwakePort that it has left for the OS.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "io-aggregation/io_device.h"
#include "vmm/vcpu.h"

namespace heca::vmm {

// How often a parked AP is made runnable to look at the mailbox again: an AP wakes at most
// this much after the OS asked (the OS wakes them one at a time).
inline constexpr std::chrono::microseconds kApParkRousePeriod{2000};

// THREADS: watch() and start() on the VMM thread before the vCPUs run; write() on vCPU threads;
// stop() from any thread but the waker's. LOCKING: mu_ guards parked_ and stopping_.
class ApParkWaker final : public io::IoDevice {
 public:
  explicit ApParkWaker(std::chrono::microseconds period) : period_(period) {}
  ~ApParkWaker() override { stop(); }
  ApParkWaker(const ApParkWaker&) = delete;
  ApParkWaker& operator=(const ApParkWaker&) = delete;

  // An AP of this node that starts in the park loop (`vcpu` outlives the waker's thread).
  void watch(std::uint32_t apic_id, Vcpu& vcpu);
  void start();
  void stop();
  // The APs that have reported leaving the park loop, in report order.
  [[nodiscard]] std::vector<std::uint32_t> awake() const;

  // Reads return zeros; a 4-byte write of an APIC id marks that AP awake.
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  struct Parked {
    std::uint32_t apic_id = 0;
    Vcpu* vcpu = nullptr;
  };
  void run();

  const std::chrono::microseconds period_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Parked> parked_;       // GUARDED_BY(mu_)
  std::vector<std::uint32_t> awake_; // GUARDED_BY(mu_)
  bool stopping_ = false;            // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace heca::vmm

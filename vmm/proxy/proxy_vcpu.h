// ProxyVcpu: a local KVM vCPU that stands in for a vCPU running on another node. It parks in
// the proxy firmware, and reports every interrupt, NMI, INIT and SIPI its in-kernel LAPIC accepts.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "kernel/base/result.h"
#include "vmm/kvm/vcpu_fd.h"
#include "vmm/proxy/proxy_firmware.h"

namespace heca::vmm::proxy {

enum class ProxyEventKind : std::uint8_t { kInterrupt, kNmi, kInit, kSipi, kFault };

struct ProxyEvent {
  ProxyEventKind kind;
  std::uint32_t apic_id;
  std::uint8_t vector;      // interrupt, SIPI or exception vector; 0 for NMI and INIT
  std::uint64_t guest_tsc;  // the proxy's TSC at the report, if ProxyConfig::stamp_guest_tsc
  const char* what;         // for kFault: what went wrong
};

struct ProxyConfig {
  std::uint32_t apic_id = 0;  // the guest-visible APIC id (== KVM vCPU id)
  std::uint32_t slot = 0;     // the ProxyFirmware slot this proxy owns, unique per proxy
  // How often the proxy is pulled out of KVM_RUN to look for an accepted INIT. An INIT
  // followed by a SIPI sooner than this may let the proxy run guest code (see README); the
  // default leaves the MP spec's 10 ms INIT-to-SIPI wait more than twice the period.
  std::chrono::microseconds kick_period{4000};
  // How often a proxy in INIT_RECEIVED is polled for the SIPI (it is never run meanwhile).
  std::chrono::microseconds sipi_poll{100};
  bool stamp_guest_tsc = false;  // one more ioctl per report
};

struct ProxyStats {
  std::uint64_t interrupts = 0;
  std::uint64_t nmis = 0;
  std::uint64_t inits = 0;
  std::uint64_t sipis = 0;
  std::uint64_t faults = 0;   // exceptions in the proxy and guest-code escapes
  std::uint64_t escapes = 0;  // times the proxy was found running outside the proxy area
  std::uint64_t spurious = 0;
  std::uint64_t kicks = 0;  // KVM_RUN returns with EINTR/EAGAIN
};

// THREADS: create() on the VMM thread; the handler runs on the proxy's own thread and must
// not block for long (it delays the next interrupt). stop()/join() from any other thread.
class ProxyVcpu {
 public:
  using EventHandler = std::function<void(const ProxyEvent&)>;

  // Parks `fd` in `firmware` slot config.slot. `fd` must already have the guest's CPUID
  // for this vCPU (with x2APIC), and the node must never run it for the guest.
  // `firmware` must outlive the proxy. Kicks use the signal of install_kick_signal_handler().
  [[nodiscard]] static Result<std::unique_ptr<ProxyVcpu>> create(VcpuFd fd,
                                                                 const ProxyFirmware& firmware,
                                                                 const ProxyConfig& config,
                                                                 EventHandler handler);
  ~ProxyVcpu();
  ProxyVcpu(const ProxyVcpu&) = delete;
  ProxyVcpu& operator=(const ProxyVcpu&) = delete;

  void start();
  void stop();
  void join();
  // Whether the proxy's thread has returned (see Vcpu::has_exited).
  [[nodiscard]] bool has_exited() const { return exited_.load(); }
  [[nodiscard]] std::uint32_t apic_id() const { return config_.apic_id; }
  [[nodiscard]] ProxyStats stats() const;

 private:
  ProxyVcpu(VcpuFd fd, const ProxyFirmware& firmware, const ProxyConfig& config,
            EventHandler handler);
  [[nodiscard]] Status park();
  void thread_main();
  void kicker_main(pthread_t target);
  void handle_exit();
  void handle_report(std::uint32_t value);
  void check_after_kick();
  void wait_for_sipi();
  void check_running_state();
  void escape(const char* what);
  void emit(ProxyEventKind kind, std::uint8_t vector, const char* what = "");
  void bump(std::atomic<std::uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }

  VcpuFd fd_;
  const ProxyFirmware& firmware_;
  const ProxyConfig config_;
  const EventHandler handler_;
  std::atomic<bool> stopping_{false};
  struct Counters {
    std::atomic<std::uint64_t> interrupts, nmis, inits, sipis, faults, escapes, spurious, kicks;
  } counters_{};
  std::mutex mu_;
  std::condition_variable stop_cv_;
  std::thread thread_;  // GUARDED_BY(mu_) for start/join
  std::atomic<bool> exited_{true};  // no thread running (not started, or returned)
  std::thread kicker_;  // GUARDED_BY(mu_)
};

}  // namespace heca::vmm::proxy

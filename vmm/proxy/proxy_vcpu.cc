#include "vmm/proxy/proxy_vcpu.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "kernel/base/check.h"
#include "kernel/base/log.h"
#include "vmm/vcpu.h"

namespace heca::vmm::proxy {
namespace {

constexpr std::uint32_t kMsrTsc = 0x10;
constexpr std::uint32_t kMsrX2apicSvr = 0x80F;
constexpr std::uint64_t kSvrEnabled = 0x100 | kSpuriousVector;
constexpr std::uint64_t kCr0Pe = 1;

// A vCPU that KVM has just moved through INIT and SIPI, and that has not executed anything:
// real mode at CS = vector << 8, IP = 0.
bool is_pristine_sipi_state(const kvm_sregs& sregs, const kvm_regs& regs) {
  return (sregs.cr0 & kCr0Pe) == 0 && regs.rip == 0 &&
         sregs.cs.base == std::uint64_t{sregs.cs.selector} << 4 && (sregs.cs.selector & 0xFF) == 0;
}

}  // namespace

ProxyVcpu::ProxyVcpu(VcpuFd fd, const ProxyFirmware& firmware, const ProxyConfig& config,
                     EventHandler handler)
    : fd_(std::move(fd)), firmware_(firmware), config_(config), handler_(std::move(handler)) {}

Result<std::unique_ptr<ProxyVcpu>> ProxyVcpu::create(VcpuFd fd, const ProxyFirmware& firmware,
                                                     const ProxyConfig& config,
                                                     EventHandler handler) {
  if (config.slot >= firmware.slot_count()) return make_error("proxy slot out of range");
  std::unique_ptr<ProxyVcpu> proxy(
      new ProxyVcpu(std::move(fd), firmware, config, std::move(handler)));
  if (auto s = proxy->park(); !s) {
    return wrap_error(s.error(), "park proxy for APIC " + std::to_string(config.apic_id));
  }
  return proxy;
}

ProxyVcpu::~ProxyVcpu() {
  stop();
  join();
}

Status ProxyVcpu::park() {
  auto sregs = fd_.get_sregs();
  if (!sregs) return std::unexpected(sregs.error());
  if (auto s = fd_.set_sregs(firmware_.park_sregs(*sregs, config_.slot)); !s) return s;
  if (auto s = fd_.set_regs(firmware_.park_regs(config_.slot)); !s) return s;
  // INVARIANT: the LAPIC accepts fixed interrupts from here on, before the proxy first runs.
  if (auto s = fd_.set_msr(kMsrX2apicSvr, kSvrEnabled); !s) return s;
  return fd_.set_mp_state(KVM_MP_STATE_RUNNABLE);
}

void ProxyVcpu::start() {
  install_kick_signal_handler();
  const std::lock_guard lock(mu_);
  HECA_CHECK(!thread_.joinable());
  exited_.store(false);
  thread_ = std::thread([this] {
    thread_main();
    exited_.store(true);
  });
  if (config_.kick_period.count() > 0) {
    kicker_ = std::thread([this, target = thread_.native_handle()] { kicker_main(target); });
  }
}

void ProxyVcpu::stop() {
  stopping_.store(true);
  fd_.set_immediate_exit(true);
  const std::lock_guard lock(mu_);
  stop_cv_.notify_all();
  if (thread_.joinable()) ::pthread_kill(thread_.native_handle(), SIGUSR1);
}

void ProxyVcpu::join() {
  std::thread kicker;
  std::thread thread;
  {
    // The kicker needs mu_ to notice the stop, so it is joined without holding mu_.
    const std::lock_guard lock(mu_);
    kicker = std::move(kicker_);
    thread = std::move(thread_);
  }
  if (kicker.joinable()) kicker.join();
  if (thread.joinable()) thread.join();
}

void ProxyVcpu::kicker_main(pthread_t target) {
  std::unique_lock lock(mu_);
  while (!stop_cv_.wait_for(lock, config_.kick_period, [this] { return stopping_.load(); })) {
    ::pthread_kill(target, SIGUSR1);
  }
}

ProxyStats ProxyVcpu::stats() const {
  const auto get = [](const std::atomic<std::uint64_t>& c) { return c.load(); };
  return {get(counters_.interrupts), get(counters_.nmis),   get(counters_.inits),
          get(counters_.sipis),      get(counters_.faults), get(counters_.escapes),
          get(counters_.spurious),   get(counters_.kicks)};
}

void ProxyVcpu::thread_main() {
  (void)::pthread_setname_np(::pthread_self(), ("proxy" + std::to_string(config_.apic_id)).c_str());
  // An INIT or SIPI that arrived before the first KVM_RUN is taken here, without running.
  check_after_kick();
  while (!stopping_.load()) {
    if (auto ran = fd_.run(); !ran) {
      const int code = ran.error().code;
      if (code != EINTR && code != EAGAIN) {
        emit(ProxyEventKind::kFault, 0, "KVM_RUN failed");
        return;
      }
      bump(counters_.kicks);
      check_after_kick();
      continue;
    }
    handle_exit();
  }
}

void ProxyVcpu::handle_exit() {
  const kvm_run& run = fd_.run_state();
  const bool report = run.exit_reason == KVM_EXIT_IO && run.io.port == kProxyPort &&
                      run.io.direction == KVM_EXIT_IO_OUT && run.io.size == 4 && run.io.count == 1;
  if (!report) {
    escape("unexpected exit: the proxy ran outside its firmware");
    return;
  }
  std::uint32_t value = 0;
  std::memcpy(&value, fd_.run_page().data() + run.io.data_offset, sizeof(value));
  handle_report(value);
}

void ProxyVcpu::handle_report(std::uint32_t value) {
  const auto report = decode_report(value);
  if (!report) {
    escape("malformed report");
    return;
  }
  switch (report->kind) {
    case ReportKind::kInterrupt:
      bump(counters_.interrupts);
      emit(ProxyEventKind::kInterrupt, report->vector);
      return;
    case ReportKind::kNmi:
      bump(counters_.nmis);
      emit(ProxyEventKind::kNmi, 0);
      return;
    case ReportKind::kSpurious:
      bump(counters_.spurious);
      return;
    case ReportKind::kFault:
      bump(counters_.faults);
      emit(ProxyEventKind::kFault, report->vector, "exception in proxy firmware");
      if (auto s = park(); !s) emit(ProxyEventKind::kFault, 0, "re-park failed");
      return;
  }
}

// Measured on this host's KVM (tests/kvm_init_probe_test.cc): a halted vCPU that accepts
// INIT stays blocked inside KVM_RUN (no return, no EAGAIN) in INIT_RECEIVED; only a signal
// gets it out (EINTR). KVM_GET_VCPU_EVENTS reports sipi_vector as 0, but KVM_GET_MP_STATE
// accepts a pending SIPI without running the vCPU: RUNNABLE, CS = vector << 8, RIP = 0.
// So the periodic kick is what finds INIT_RECEIVED; a SIPI that lands inside KVM_RUN before
// the kick starts the guest's code in the proxy (an escape, see README.md).
void ProxyVcpu::check_after_kick() {
  const auto mp_state = fd_.get_mp_state();
  if (!mp_state) {
    emit(ProxyEventKind::kFault, 0, "KVM_GET_MP_STATE failed");
    return;
  }
  if (*mp_state == KVM_MP_STATE_INIT_RECEIVED) {
    bump(counters_.inits);
    emit(ProxyEventKind::kInit, 0);
    wait_for_sipi();
    return;
  }
  // HALTED: still in the park loop's hlt (the common case), nothing to check.
  if (*mp_state != KVM_MP_STATE_HALTED) check_running_state();
}

// INIT_RECEIVED: never enter KVM_RUN (KVM would start the guest's trampoline once the SIPI
// lands). KVM_GET_MP_STATE delivers the SIPI and leaves the vCPU unrun at vector << 12.
void ProxyVcpu::wait_for_sipi() {
  while (!stopping_.load()) {
    std::this_thread::sleep_for(config_.sipi_poll);
    const auto mp_state = fd_.get_mp_state();
    if (!mp_state) {
      emit(ProxyEventKind::kFault, 0, "KVM_GET_MP_STATE failed");
      return;
    }
    if (*mp_state == KVM_MP_STATE_INIT_RECEIVED) continue;
    const auto sregs = fd_.get_sregs();
    if (!sregs) return;
    bump(counters_.sipis);
    emit(ProxyEventKind::kSipi, static_cast<std::uint8_t>(sregs->cs.selector >> 8));
    if (auto s = park(); !s) emit(ProxyEventKind::kFault, 0, "re-park failed");
    return;
  }
}

// After a kick in RUNNABLE/HALTED: the proxy must still be inside its firmware, or be a
// vCPU that GET_MP_STATE has just taken through INIT and SIPI without running it.
void ProxyVcpu::check_running_state() {
  const auto sregs = fd_.get_sregs();
  const auto regs = fd_.get_regs();
  if (!sregs || !regs) {
    emit(ProxyEventKind::kFault, 0, "KVM_GET_REGS failed");
    return;
  }
  if (regs->rip >= kProxyAreaGpa && regs->rip < kProxyAreaGpa + firmware_.size()) return;
  if (!is_pristine_sipi_state(*sregs, *regs)) {
    escape("the proxy ran guest code");
    return;
  }
  bump(counters_.inits);
  emit(ProxyEventKind::kInit, 0);
  bump(counters_.sipis);
  emit(ProxyEventKind::kSipi, static_cast<std::uint8_t>(sregs->cs.selector >> 8));
  if (auto s = park(); !s) emit(ProxyEventKind::kFault, 0, "re-park failed");
}

// The proxy left its firmware. If it is still in real mode at a SIPI's CS, KVM took it
// through INIT and SIPI inside KVM_RUN: forward both anyway, so the real AP still starts.
void ProxyVcpu::escape(const char* what) {
  bump(counters_.escapes);
  bump(counters_.faults);
  spdlog::warn("proxy APIC {}: {}; re-parking", config_.apic_id, what);
  emit(ProxyEventKind::kFault, 0, what);
  const auto sregs = fd_.get_sregs();
  if (sregs && (sregs->cr0 & kCr0Pe) == 0 && (sregs->cs.selector & 0xFF) == 0 &&
      sregs->cs.base == std::uint64_t{sregs->cs.selector} << 4) {
    bump(counters_.inits);
    emit(ProxyEventKind::kInit, 0);
    bump(counters_.sipis);
    emit(ProxyEventKind::kSipi, static_cast<std::uint8_t>(sregs->cs.selector >> 8));
  }
  if (auto s = park(); !s) emit(ProxyEventKind::kFault, 0, "re-park failed");
}

void ProxyVcpu::emit(ProxyEventKind kind, std::uint8_t vector, const char* what) {
  std::uint64_t tsc = 0;
  if (config_.stamp_guest_tsc) tsc = fd_.get_msr(kMsrTsc).value_or(0);
  if (handler_) handler_({kind, config_.apic_id, vector, tsc, what});
}

}  // namespace heca::vmm::proxy

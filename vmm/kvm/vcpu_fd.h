// VcpuFd: the move-only owner of one KVM vCPU fd and the kvm_run page mapped from it.
// Register state, CPUID, MSRs and KVM_RUN itself; no policy about what the state should be.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>

#include "kernel/base/fd.h"
#include "kernel/base/mapping.h"
#include "kernel/base/result.h"

namespace heca::vmm {

// Thread-safety: owned by its vCPU thread (KVM requires vCPU ioctls from one thread at a
// time). request_immediate_exit() is the one call that is safe from other threads.
class VcpuFd {
 public:
  VcpuFd(Fd vcpu, Mapping run) : vcpu_(std::move(vcpu)), run_(std::move(run)) {}

  // KVM_RUN. On failure the Error's code is the errno (EINTR and EAGAIN are expected).
  [[nodiscard]] Status run();
  // The shared kvm_run page: exit reason and exit data after run() returns.
  [[nodiscard]] kvm_run& run_state() const { return *reinterpret_cast<kvm_run*>(run_.data()); }
  // The whole kvm_run mapping (PIO data lives at an offset inside it).
  [[nodiscard]] std::span<std::uint8_t> run_page() const { return run_.bytes(); }
  // Sets/clears kvm_run.immediate_exit, so that a KVM_RUN entered after it returns EINTR.
  void set_immediate_exit(bool on) const;

  [[nodiscard]] Result<kvm_regs> get_regs() const;
  [[nodiscard]] Status set_regs(const kvm_regs& regs);
  [[nodiscard]] Result<kvm_sregs> get_sregs() const;
  [[nodiscard]] Status set_sregs(const kvm_sregs& sregs);
  [[nodiscard]] Status set_fpu(const kvm_fpu& fpu);
  [[nodiscard]] Status set_cpuid(std::span<const kvm_cpuid_entry2> entries);
  // KVM_GET_MSRS for `index`.
  [[nodiscard]] Result<std::uint64_t> get_msr(std::uint32_t index) const;
  // KVM_SET_MSRS for one MSR.
  [[nodiscard]] Status set_msr(std::uint32_t index, std::uint64_t value);
  [[nodiscard]] Result<std::uint32_t> get_mp_state() const;
  [[nodiscard]] Status set_mp_state(std::uint32_t mp_state);
  [[nodiscard]] Result<kvm_vcpu_events> get_vcpu_events() const;
  [[nodiscard]] Status set_vcpu_events(const kvm_vcpu_events& events);
  // The vCPU attribute KVM_VCPU_TSC_CTRL/KVM_VCPU_TSC_OFFSET: guest TSC = host TSC + offset.
  [[nodiscard]] Result<std::uint64_t> get_tsc_offset() const;
  [[nodiscard]] Status set_tsc_offset(std::uint64_t offset);
  // KVM_GET_TSC_KHZ: the guest TSC frequency of this vCPU.
  [[nodiscard]] Result<std::uint32_t> tsc_khz() const;

 private:
  Fd vcpu_;
  Mapping run_;
};

}  // namespace heca::vmm

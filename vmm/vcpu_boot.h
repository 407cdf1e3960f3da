// Boot-time vCPU state: CPUID, FPU, the BSP's 64-bit long-mode entry, and parked APs.
// Applied on the VMM thread before any vCPU thread starts.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>

#include "firmware/boot_plan.h"
#include "kernel/base/result.h"
#include "vmm/kvm/vcpu_fd.h"

namespace heca::vmm {

struct VcpuBootConfig {
  std::uint32_t index = 0;  // == APIC id; 0 is the BSP
  std::uint32_t vcpu_count = 1;
  std::span<const kvm_cpuid_entry2> supported_cpuid;
};

// CPUID (per APIC id), FPU, then either the BSP's long-mode entry at plan.entry_rip with
// RSI = plan.boot_params_gpa, or an AP parked in UNINITIALIZED for INIT-SIPI-SIPI.
[[nodiscard]] Status configure_vcpu(VcpuFd& vcpu, const VcpuBootConfig& config,
                                    const firmware::BootPlan& plan);

// The segment registers and control registers of 64-bit mode on the boot GDT.
[[nodiscard]] kvm_sregs long_mode_sregs(kvm_sregs sregs);

}  // namespace heca::vmm

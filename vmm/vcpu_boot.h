// Boot-time vCPU state: CPUID, FPU, the BSP's 64-bit long-mode entry, and APs waiting for
// INIT-SIPI-SIPI or parked in the AP wakeup firmware.
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
  // A proxy for a vCPU that runs on another node: it never runs guest code here, so an AP
  // keeps the INIT-SIPI state whatever the plan says (ProxyVcpu then parks it).
  bool proxy = false;
  // See CpuidPolicy: whether the vCPUs span nodes, this vCPU's node and the node count.
  bool vcpus_span_nodes = false;
  std::uint32_t node = 0;
  std::uint32_t node_count = 1;
  bool tsc_deadline = false;  // see CpuidPolicy
  // The page tables an AP parks on in the ACPI wakeup firmware (an identity map of 0..4 GiB);
  // 0: the firmware's own, in guest RAM. Nodes give their private ones (ProxyFirmware).
  std::uint64_t ap_park_cr3 = 0;
};

// CPUID (per APIC id), FPU, then one of:
//  - the BSP: long mode at plan.entry_rip with RSI = plan.boot_params_gpa;
//  - an AP, when plan.ap_entry_rip != 0 and it is no proxy: RUNNABLE in long mode at
//    plan.ap_entry_rip on the AP wakeup firmware's GDT and page tables, RBX = its APIC id;
//  - any other AP: UNINITIALIZED, waiting for INIT-SIPI-SIPI.
// Interrupts are off in every case.
[[nodiscard]] Status configure_vcpu(VcpuFd& vcpu, const VcpuBootConfig& config,
                                    const firmware::BootPlan& plan);

// The segment registers and control registers of 64-bit mode on a copy of the boot GDT at
// `gdt_base` and the identity page tables at `cr3`.
[[nodiscard]] kvm_sregs long_mode_sregs(kvm_sregs sregs, std::uint64_t gdt_base = firmware::kGdtAddr,
                                        std::uint64_t cr3 = firmware::kPml4Addr);

}  // namespace heca::vmm

// CPUID policy: turns the host's KVM_GET_SUPPORTED_CPUID list into one vCPU's table.
// Pure (no ioctls), so topology and feature masking are unit-tested without /dev/kvm.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

namespace heca::vmm {

// The guest sees one package of vcpu_count single-threaded cores; each vCPU's
// x2APIC id is its apic_id. Leaf 1 EBX[23:16] counts addressable ids, i.e.
// vcpu_count rounded up to a power of two (capped at 255).
struct CpuidPolicy {
  std::uint32_t apic_id = 0;
  std::uint32_t vcpu_count = 1;
  // PVM's emulator lacks xrstor and cmpxchg16b for ring-0 code, so a guest kernel
  // must not be told they exist.
  bool mask_xsave = true;  // XSAVE and everything whose state it manages (AVX...)
  bool mask_cx16 = true;   // CMPXCHG16B
  // The guest's vCPUs run on several nodes: hide the KVM paravirt features that assume one
  // host (see hide_single_host_pv_features in cpuid.cc).
  bool vcpus_span_nodes = false;
  // With vcpus_span_nodes: the node this vCPU runs on and how many nodes the guest has (each
  // is a NUMA node).
  std::uint32_t node = 0;
  std::uint32_t node_count = 1;
  // KVM emulates the TSC-deadline mode of the local APIC timer (KVM_CAP_TSC_DEADLINE_TIMER):
  // announce it (leaf 1), so the guest programs its timer in TSC cycles.
  bool tsc_deadline = false;
};

// The CPUID table for one vCPU, ready for KVM_SET_CPUID2. It:
//  - puts the APIC id and topology in leaves 1, 4, 0xB (added if absent), 0x1F
//    (only if present) and AMD's 0x80000008/0x8000001D/0x8000001E;
//  - sets x2APIC and hypervisor-present (and the TSC-deadline timer, if the policy says),
//    hides MONITOR/MWAIT(X);
//  - applies the policy masks (dropping leaf 0xD with XSAVE);
//  - with vcpus_span_nodes: clears kvmclock and PV unhalt in KVM's feature leaf, announces
//    an invariant TSC (leaf 0x80000007, if present), makes every vCPU a package of one core
//    (so no package or cache spans nodes), and puts the node in AMD's node id (0x8000001E);
//  - passes everything else through, including KVM's other 0x40000000 leaves.
// vcpu_count must be at least 1.
[[nodiscard]] std::vector<kvm_cpuid_entry2> build_vcpu_cpuid(
    std::span<const kvm_cpuid_entry2> supported, const CpuidPolicy& policy);

}  // namespace heca::vmm

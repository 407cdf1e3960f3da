#include "vmm/cpuid.h"

#include <algorithm>

#include "kernel/base/check.h"

namespace heca::vmm {
namespace {

constexpr std::uint32_t bit(unsigned n) {
  return std::uint32_t{1} << n;
}

constexpr std::uint32_t kLeafMaxBasic = 0x0;
constexpr std::uint32_t kLeafFeatures = 0x1;
constexpr std::uint32_t kLeafCacheParams = 0x4;
constexpr std::uint32_t kLeafStructuredFeatures = 0x7;
constexpr std::uint32_t kLeafTopology = 0xb;
constexpr std::uint32_t kLeafXsaveState = 0xd;
constexpr std::uint32_t kLeafTopologyV2 = 0x1f;
constexpr std::uint32_t kLeafAmdFeatures = 0x80000001;
constexpr std::uint32_t kLeafPowerManagement = 0x80000007;
constexpr std::uint32_t kLeafAmdSizes = 0x80000008;
constexpr std::uint32_t kLeafAmdCacheParams = 0x8000001d;
constexpr std::uint32_t kLeafAmdTopology = 0x8000001e;

// Leaf 1.
constexpr std::uint32_t kEcxMonitor = bit(3);
constexpr std::uint32_t kEcxCx16 = bit(13);
constexpr std::uint32_t kEcxX2apic = bit(21);
constexpr std::uint32_t kEcxTscDeadline = bit(24);
constexpr std::uint32_t kEcxHypervisor = bit(31);
constexpr std::uint32_t kEcxXsaveFamily =
    bit(12) /*FMA*/ | bit(26) /*XSAVE*/ | bit(27) /*OSXSAVE*/ | bit(28) /*AVX*/ | bit(29) /*F16C*/;
constexpr std::uint32_t kEdxHtt = bit(28);

// Leaf 7 subleaf 0: features whose register state XSAVE manages.
constexpr std::uint32_t kLeaf7EbxXsaveFamily =
    bit(5) /*AVX2*/ | bit(14) /*MPX*/ | bit(16) /*AVX512F*/ | bit(17) /*DQ*/ | bit(21) /*IFMA*/ |
    bit(26) /*PF*/ | bit(27) /*ER*/ | bit(28) /*CD*/ | bit(30) /*BW*/ | bit(31) /*VL*/;
constexpr std::uint32_t kLeaf7EcxXsaveFamily =
    bit(1) /*VBMI*/ | bit(3) /*PKU*/ | bit(6) /*VBMI2*/ | bit(7) /*CET_SS*/ | bit(9) /*VAES*/ |
    bit(10) /*VPCLMULQDQ*/ | bit(11) /*VNNI*/ | bit(12) /*BITALG*/ | bit(14) /*VPOPCNTDQ*/;
constexpr std::uint32_t kLeaf7EdxXsaveFamily =
    bit(2) /*4VNNIW*/ | bit(3) /*4FMAPS*/ | bit(8) /*VP2INTERSECT*/ | bit(20) /*CET_IBT*/ |
    bit(22) /*AMX_BF16*/ | bit(23) /*AVX512_FP16*/ | bit(24) /*AMX_TILE*/ | bit(25) /*AMX_INT8*/;
// Leaf 7 subleaf 1.
constexpr std::uint32_t kLeaf7Sub1EaxXsaveFamily = bit(4) /*AVX_VNNI*/ | bit(5) /*AVX512_BF16*/;

// Leaf 0x80000001.
constexpr std::uint32_t kAmdEcxXsaveFamily = bit(11) /*XOP*/ | bit(16) /*FMA4*/;
constexpr std::uint32_t kAmdEcxMonitorx = bit(29);

// KVM's paravirt feature bits: EAX of the leaf after its signature leaf 0x40000000.
constexpr std::uint32_t kLeafKvmFeatures = 0x40000001;
constexpr std::uint32_t kKvmFeatureClocksource = bit(0);
constexpr std::uint32_t kKvmFeatureClocksource2 = bit(3);
constexpr std::uint32_t kKvmFeaturePvUnhalt = bit(7);
constexpr std::uint32_t kKvmFeatureClocksourceStable = bit(24);

// Leaf 0x80000007.
constexpr std::uint32_t kEdxInvariantTsc = bit(8);

// Leaf 0xB/0x1F level types.
constexpr std::uint32_t kLevelSmt = 1;
constexpr std::uint32_t kLevelCore = 2;

struct Topology {
  std::uint32_t apic_id = 0;
  std::uint32_t cores = 1;
  std::uint32_t core_shift = 0;  // ceil(log2(cores)): APIC-id bits below the package
  // Addressable core ids minus one, as leaves 4 and 0x8000001D encode it.
  [[nodiscard]] std::uint32_t max_core_id() const {
    return static_cast<std::uint32_t>((std::uint64_t{1} << core_shift) - 1);
  }
};

std::uint32_t ceil_log2(std::uint32_t n) {
  std::uint32_t shift = 0;
  while ((std::uint64_t{1} << shift) < n) ++shift;
  return shift;
}

std::uint32_t with_field(std::uint32_t reg, unsigned low, unsigned width, std::uint32_t value) {
  const std::uint32_t mask = static_cast<std::uint32_t>(((std::uint64_t{1} << width) - 1) << low);
  return (reg & ~mask) | ((value << low) & mask);
}

void apply_features(kvm_cpuid_entry2& e, const CpuidPolicy& policy, const Topology& topo) {
  const std::uint32_t logical = std::min<std::uint32_t>(topo.max_core_id() + 1, 0xff);
  e.ebx = with_field(e.ebx, 16, 8, logical);
  e.ebx = with_field(e.ebx, 24, 8, topo.apic_id & 0xff);
  e.ecx |= kEcxX2apic | kEcxHypervisor;
  e.ecx &= ~kEcxMonitor;
  if (policy.mask_xsave) e.ecx &= ~kEcxXsaveFamily;
  if (policy.mask_cx16) e.ecx &= ~kEcxCx16;
  if (policy.tsc_deadline) e.ecx |= kEcxTscDeadline;
  e.edx = topo.cores > 1 ? (e.edx | kEdxHtt) : (e.edx & ~kEdxHtt);
}

void apply_structured_features(kvm_cpuid_entry2& e, const CpuidPolicy& policy) {
  if (!policy.mask_xsave) return;
  if (e.index == 0) {
    e.ebx &= ~kLeaf7EbxXsaveFamily;
    e.ecx &= ~kLeaf7EcxXsaveFamily;
    e.edx &= ~kLeaf7EdxXsaveFamily;
  } else if (e.index == 1) {
    e.eax &= ~kLeaf7Sub1EaxXsaveFamily;
  }
}

// Leaves 4 and 0x8000001D: L1/L2 are private to a core, L3 is shared by the package.
void apply_cache_params(kvm_cpuid_entry2& e, const Topology& topo, bool has_core_field) {
  const bool valid = (e.eax & 0x1f) != 0;
  if (!valid) return;
  const std::uint32_t level = (e.eax >> 5) & 0x7;
  e.eax = with_field(e.eax, 14, 12, level >= 3 ? topo.max_core_id() : 0);
  if (has_core_field)
    e.eax = with_field(e.eax, 26, 6, std::min<std::uint32_t>(topo.max_core_id(), 63));
}

void apply_amd_features(kvm_cpuid_entry2& e, const CpuidPolicy& policy) {
  e.ecx &= ~kAmdEcxMonitorx;
  if (policy.mask_xsave) e.ecx &= ~kAmdEcxXsaveFamily;
}

void apply_amd_sizes(kvm_cpuid_entry2& e, const Topology& topo) {
  e.ecx = with_field(e.ecx, 0, 8, std::min<std::uint32_t>(topo.cores - 1, 0xff));
  e.ecx = with_field(e.ecx, 12, 4, topo.core_shift);
}

// One core per compute unit (its id is the core's); the node id is the vCPU's node when the
// vCPUs span nodes (Linux takes the last-level cache of older AMD families from it).
void apply_amd_topology(kvm_cpuid_entry2& e, const CpuidPolicy& policy, const Topology& topo) {
  constexpr std::uint32_t kMaxNodesPerPackage = 8;
  e.eax = topo.apic_id;
  e.ebx = with_field(e.ebx, 0, 16, topo.apic_id & 0xff);
  const std::uint32_t nodes = std::clamp<std::uint32_t>(policy.node_count, 1, kMaxNodesPerPackage);
  const std::uint32_t node = policy.vcpus_span_nodes ? policy.node & 0xff : 0;
  e.ecx = with_field(with_field(e.ecx, 0, 8, node), 8, 3, policy.vcpus_span_nodes ? nodes - 1 : 0);
}

// Leaf 0xB/0x1F: SMT level (one thread per core), core level (the package), end.
void append_topology_leaf(std::vector<kvm_cpuid_entry2>& out, std::uint32_t function,
                          const Topology& topo) {
  auto level = [&](std::uint32_t index, std::uint32_t shift, std::uint32_t count,
                   std::uint32_t type) {
    kvm_cpuid_entry2 e{};
    e.function = function;
    e.index = index;
    e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    e.eax = shift;
    e.ebx = count & 0xffff;
    e.ecx = (type << 8) | index;
    e.edx = topo.apic_id;
    out.push_back(e);
  };
  level(0, 0, 1, kLevelSmt);
  level(1, topo.core_shift, topo.cores, kLevelCore);
  level(2, 0, 0, 0);
}

// KVM features that break when the vCPUs live on several hosts:
//  - kvmclock: every node's KVM writes its vCPUs' time info, and Linux keeps the first 64
//    vCPUs' entries in one page (hv_clock_boot), so each clock update moves that page between
//    hosts and every clock read faults it back. The guest uses the TSC instead, which heca
//    aligns across nodes.
//  - PV unhalt: a waiter halted in a paravirt spinlock is woken by KVM_HC_KICK_CPU, which KVM
//    delivers to the target's local LAPIC. For a vCPU on another node that is a proxy, which
//    cannot see the kick, so the waiter would sleep on (forever, with interrupts off). Without
//    it Linux spins on the lock, as on bare metal.
void hide_single_host_pv_features(kvm_cpuid_entry2& e) {
  e.eax &= ~(kKvmFeatureClocksource | kKvmFeatureClocksource2 | kKvmFeaturePvUnhalt |
             kKvmFeatureClocksourceStable);
}

void apply_leaf(kvm_cpuid_entry2& e, const CpuidPolicy& policy, const Topology& topo) {
  switch (e.function) {
    case kLeafKvmFeatures:
      if (policy.vcpus_span_nodes) hide_single_host_pv_features(e);
      break;
    case kLeafPowerManagement:
      // Without kvmclock Linux keeps the TSC as its clock only if it is invariant; heca makes
      // it so across nodes by offsetting every vCPU to node 0's TSC.
      if (policy.vcpus_span_nodes) e.edx |= kEdxInvariantTsc;
      break;
    case kLeafMaxBasic:
      e.eax = std::max(e.eax, kLeafTopology);
      break;
    case kLeafFeatures:
      apply_features(e, policy, topo);
      break;
    case kLeafCacheParams:
      apply_cache_params(e, topo, /*has_core_field=*/true);
      break;
    case kLeafStructuredFeatures:
      apply_structured_features(e, policy);
      break;
    case kLeafAmdFeatures:
      apply_amd_features(e, policy);
      break;
    case kLeafAmdSizes:
      apply_amd_sizes(e, topo);
      break;
    case kLeafAmdCacheParams:
      apply_cache_params(e, topo, /*has_core_field=*/false);
      break;
    case kLeafAmdTopology:
      apply_amd_topology(e, policy, topo);
      break;
    default:
      break;
  }
}

}  // namespace

std::vector<kvm_cpuid_entry2> build_vcpu_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                               const CpuidPolicy& policy) {
  HECA_CHECK(policy.vcpu_count >= 1);
  // Across nodes every vCPU is a package of one core (as QEMU's default -smp N): Linux derives
  // packages and last-level caches from the APIC id, and a package or cache that spans NUMA
  // nodes draws a warning and confuses its scheduler domains.
  const Topology topo = policy.vcpus_span_nodes
                            ? Topology{policy.apic_id, 1, 0}
                            : Topology{policy.apic_id, policy.vcpu_count, ceil_log2(policy.vcpu_count)};
  std::vector<kvm_cpuid_entry2> out;
  out.reserve(supported.size() + 3);
  bool has_topology = false;
  bool has_topology_v2 = false;
  for (const kvm_cpuid_entry2& in : supported) {
    if (in.function == kLeafXsaveState && policy.mask_xsave) continue;
    // The host's own topology subleaves are replaced, not edited.
    if (in.function == kLeafTopology || in.function == kLeafTopologyV2) {
      bool& done = in.function == kLeafTopology ? has_topology : has_topology_v2;
      if (!done) append_topology_leaf(out, in.function, topo);
      done = true;
      continue;
    }
    kvm_cpuid_entry2 e = in;
    apply_leaf(e, policy, topo);
    out.push_back(e);
  }
  if (!has_topology) append_topology_leaf(out, kLeafTopology, topo);
  return out;
}

}  // namespace heca::vmm

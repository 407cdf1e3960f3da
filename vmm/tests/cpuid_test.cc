#include "vmm/cpuid.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace heca::vmm {
namespace {

constexpr std::uint32_t bit(unsigned n) {
  return std::uint32_t{1} << n;
}

constexpr std::uint32_t kEcxMonitor = bit(3);
constexpr std::uint32_t kEcxFma = bit(12);
constexpr std::uint32_t kEcxCx16 = bit(13);
constexpr std::uint32_t kEcxX2apic = bit(21);
constexpr std::uint32_t kEcxTscDeadline = bit(24);
constexpr std::uint32_t kEcxXsave = bit(26);
constexpr std::uint32_t kEcxAvx = bit(28);
constexpr std::uint32_t kEcxF16c = bit(29);
constexpr std::uint32_t kEcxHypervisor = bit(31);
constexpr std::uint32_t kEbx7Avx2 = bit(5);
constexpr std::uint32_t kEbx7Avx512f = bit(16);
constexpr std::uint32_t kEbx7Bmi2 = bit(8);

kvm_cpuid_entry2 entry(std::uint32_t function, std::uint32_t index, std::uint32_t eax,
                       std::uint32_t ebx, std::uint32_t ecx, std::uint32_t edx) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

// A small host table in the shape KVM_GET_SUPPORTED_CPUID returns.
std::vector<kvm_cpuid_entry2> host_table() {
  constexpr std::uint32_t kLeaf1Ecx =
      bit(0) | kEcxMonitor | kEcxFma | kEcxCx16 | kEcxTscDeadline | kEcxXsave | kEcxAvx | kEcxF16c;
  return {
      entry(0x0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),
      entry(0x1, 0, 0x00a00f11, 0x00000800, kLeaf1Ecx, 0x078bfbff),
      entry(0x4, 0, 0x00000121, 0, 0, 0),  // L1d
      entry(0x4, 1, 0x00000122, 0, 0, 0),  // L1i
      entry(0x4, 2, 0x00000143, 0, 0, 0),  // L2
      entry(0x4, 3, 0x00000163, 0, 0, 0),  // L3
      entry(0x4, 4, 0, 0, 0, 0),
      entry(0x7, 0, 0, kEbx7Avx2 | kEbx7Avx512f | kEbx7Bmi2, 0, 0),
      entry(0xb, 0, 1, 2, 0x100, 9),
      entry(0xb, 1, 7, 64, 0x201, 9),
      entry(0xd, 0, 0x7, 0x340, 0x340, 0),
      entry(0xd, 1, 0xf, 0, 0, 0),
      entry(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d),
      entry(0x40000001, 0, 0x01007afb, 0, 0, 0),
      entry(0x80000000, 0, 0x80000008, 0, 0, 0),
      entry(0x80000007, 0, 0, 0, 0, 0),
      entry(0x80000008, 0, 0x3030, 0, 0x0000703f, 0),
      entry(0x8000001d, 3, 0x00004163, 0, 0, 0),  // L3
      entry(0x8000001e, 0, 0, 0x00000100, 0, 0),
  };
}

const kvm_cpuid_entry2* find(const std::vector<kvm_cpuid_entry2>& table, std::uint32_t function,
                             std::uint32_t index = 0) {
  for (const kvm_cpuid_entry2& e : table) {
    if (e.function == function && e.index == index) return &e;
  }
  return nullptr;
}

std::size_t count(const std::vector<kvm_cpuid_entry2>& table, std::uint32_t function) {
  std::size_t n = 0;
  for (const kvm_cpuid_entry2& e : table) n += e.function == function ? 1 : 0;
  return n;
}

std::vector<kvm_cpuid_entry2> build(CpuidPolicy policy) {
  const std::vector<kvm_cpuid_entry2> host = host_table();
  return build_vcpu_cpuid(host, policy);
}

TEST(BuildVcpuCpuid, Leaf1CarriesApicIdAndLogicalCount) {
  const auto table = build({.apic_id = 5, .vcpu_count = 6});

  const kvm_cpuid_entry2* leaf1 = find(table, 0x1);

  ASSERT_NE(leaf1, nullptr);
  EXPECT_EQ(leaf1->ebx >> 24, 5u);
  EXPECT_EQ((leaf1->ebx >> 16) & 0xff, 8u);  // 6 cores need 3 APIC-id bits
  EXPECT_EQ(leaf1->ebx & 0xffff, 0x0800u);
}

TEST(BuildVcpuCpuid, OneNodeGuestKeepsEveryKvmFeatureAndTheHostsTscBits) {
  const auto table = build({.apic_id = 0, .vcpu_count = 2});

  EXPECT_EQ(find(table, 0x40000001)->eax, 0x01007afbu);
  EXPECT_EQ(find(table, 0x80000007)->edx, 0u);
}

TEST(BuildVcpuCpuid, GuestAcrossNodesLosesKvmclockAndPvUnhaltAndGetsAnInvariantTsc) {
  constexpr std::uint32_t kSingleHost = bit(0) | bit(3) | bit(7) | bit(24);

  const auto table = build({.apic_id = 1, .vcpu_count = 2, .vcpus_span_nodes = true});

  EXPECT_EQ(find(table, 0x40000001)->eax, 0x01007afbu & ~kSingleHost);
  EXPECT_EQ(find(table, 0x40000001)->eax & bit(11), bit(11));  // PV send-IPI stays
  EXPECT_EQ(find(table, 0x80000007)->edx & bit(8), bit(8));
}

TEST(BuildVcpuCpuid, GuestAcrossNodesHasOnePackagePerVcpuAndNamesTheNodeInAmdTopology) {
  const auto table = build(
      {.apic_id = 3, .vcpu_count = 4, .vcpus_span_nodes = true, .node = 2, .node_count = 3});

  EXPECT_EQ((find(table, 0x1)->ebx >> 16) & 0xff, 1u);        // one logical CPU per package
  EXPECT_EQ(find(table, 0x80000008)->ecx & 0xff, 0u);          // one core
  EXPECT_EQ((find(table, 0x80000008)->ecx >> 12) & 0xf, 0u);   // no core bits in the APIC id
  EXPECT_EQ((find(table, 0x4, 3)->eax >> 14) & 0xfff, 0u);    // L3: this vCPU alone
  EXPECT_EQ((find(table, 0x8000001d, 3)->eax >> 14) & 0xfff, 0u);
  EXPECT_EQ(find(table, 0x8000001e)->ecx & 0xff, 2u);       // node id
  EXPECT_EQ((find(table, 0x8000001e)->ecx >> 8) & 0x7, 2u);  // nodes per package - 1
}

TEST(BuildVcpuCpuid, Leaf1KeepsLowEightBitsOfWideApicId) {
  const auto table = build({.apic_id = 0x134, .vcpu_count = 400});

  EXPECT_EQ(find(table, 0x1)->ebx >> 24, 0x34u);
}

TEST(BuildVcpuCpuid, Leaf1AnnouncesX2apicAndHypervisor) {
  const auto table = build({.apic_id = 0, .vcpu_count = 2});

  const std::uint32_t ecx = find(table, 0x1)->ecx;

  EXPECT_EQ(ecx & (kEcxX2apic | kEcxHypervisor), kEcxX2apic | kEcxHypervisor);
  EXPECT_EQ(ecx & kEcxTscDeadline, kEcxTscDeadline);
}

// KVM_GET_SUPPORTED_CPUID leaves the TSC-deadline timer out; KVM_CAP_TSC_DEADLINE_TIMER
// says KVM emulates it, and the policy then announces it.
TEST(BuildVcpuCpuid, TscDeadlineTimerIsAnnouncedWhenThePolicySaysKvmHasIt) {
  const std::vector<kvm_cpuid_entry2> host{entry(0x0, 0, 0x1, 0, 0, 0), entry(0x1, 0, 0, 0, 0, 0)};

  const auto without = build_vcpu_cpuid(host, {.apic_id = 0, .vcpu_count = 1});
  const auto with = build_vcpu_cpuid(host, {.apic_id = 0, .vcpu_count = 1, .tsc_deadline = true});

  EXPECT_EQ(find(without, 0x1)->ecx & kEcxTscDeadline, 0u);
  EXPECT_EQ(find(with, 0x1)->ecx & kEcxTscDeadline, kEcxTscDeadline);
}

TEST(BuildVcpuCpuid, MonitorIsHiddenEvenWithoutMasks) {
  const auto table =
      build({.apic_id = 0, .vcpu_count = 2, .mask_xsave = false, .mask_cx16 = false});

  EXPECT_EQ(find(table, 0x1)->ecx & kEcxMonitor, 0u);
}

TEST(BuildVcpuCpuid, XsaveFamilyMaskedByDefault) {
  const auto table = build({.apic_id = 0, .vcpu_count = 2});

  EXPECT_EQ(find(table, 0x1)->ecx & (kEcxXsave | kEcxAvx | kEcxFma | kEcxF16c), 0u);
  EXPECT_EQ(find(table, 0x7)->ebx, kEbx7Bmi2);
  EXPECT_EQ(count(table, 0xd), 0u);
}

TEST(BuildVcpuCpuid, XsaveFamilyKeptWhenPolicyAllows) {
  const auto table = build({.apic_id = 0, .vcpu_count = 2, .mask_xsave = false});

  EXPECT_EQ(find(table, 0x1)->ecx & (kEcxXsave | kEcxAvx), kEcxXsave | kEcxAvx);
  EXPECT_EQ(find(table, 0x7)->ebx, kEbx7Avx2 | kEbx7Avx512f | kEbx7Bmi2);
  EXPECT_EQ(count(table, 0xd), 2u);
}

TEST(BuildVcpuCpuid, Cx16MaskedByDefault) {
  const auto table = build({.apic_id = 0, .vcpu_count = 2});

  EXPECT_EQ(find(table, 0x1)->ecx & kEcxCx16, 0u);
}

TEST(BuildVcpuCpuid, Cx16KeptWhenPolicyAllows) {
  const auto table = build({.apic_id = 0, .vcpu_count = 2, .mask_cx16 = false});

  EXPECT_EQ(find(table, 0x1)->ecx & kEcxCx16, kEcxCx16);
}

TEST(BuildVcpuCpuid, TopologySmtLevelHasOneThread) {
  const auto table = build({.apic_id = 3, .vcpu_count = 6});

  const kvm_cpuid_entry2* smt = find(table, 0xb, 0);

  ASSERT_NE(smt, nullptr);
  EXPECT_EQ(smt->eax, 0u);
  EXPECT_EQ(smt->ebx, 1u);
  EXPECT_EQ(smt->ecx, 0x100u);
  EXPECT_EQ(smt->edx, 3u);
  EXPECT_EQ(smt->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
}

TEST(BuildVcpuCpuid, TopologyCoreLevelCoversAllVcpus) {
  const auto table = build({.apic_id = 3, .vcpu_count = 6});

  const kvm_cpuid_entry2* core = find(table, 0xb, 1);

  ASSERT_NE(core, nullptr);
  EXPECT_EQ(core->eax, 3u);
  EXPECT_EQ(core->ebx, 6u);
  EXPECT_EQ(core->ecx, 0x201u);
  EXPECT_EQ(core->edx, 3u);
}

TEST(BuildVcpuCpuid, TopologyReplacesHostSubleavesAndEndsWithInvalidLevel) {
  const auto table = build({.apic_id = 1, .vcpu_count = 4});

  const kvm_cpuid_entry2* end = find(table, 0xb, 2);

  EXPECT_EQ(count(table, 0xb), 3u);
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(end->ecx, 2u);
  EXPECT_EQ(end->ebx, 0u);
}

TEST(BuildVcpuCpuid, EachVcpuSeesItsOwnX2apicId) {
  const auto first = build({.apic_id = 0, .vcpu_count = 2});
  const auto second = build({.apic_id = 1, .vcpu_count = 2});

  EXPECT_EQ(find(first, 0xb, 1)->edx, 0u);
  EXPECT_EQ(find(second, 0xb, 1)->edx, 1u);
}

TEST(BuildVcpuCpuid, SingleVcpuHasZeroCoreShift) {
  const auto table = build({.apic_id = 0, .vcpu_count = 1});

  EXPECT_EQ(find(table, 0xb, 1)->eax, 0u);
  EXPECT_EQ(find(table, 0xb, 1)->ebx, 1u);
}

TEST(BuildVcpuCpuid, Leaf1fRewrittenWhenPresent) {
  std::vector<kvm_cpuid_entry2> host = host_table();
  host.push_back(entry(0x1f, 0, 1, 2, 0x100, 9));

  const auto table = build_vcpu_cpuid(host, {.apic_id = 2, .vcpu_count = 3});

  EXPECT_EQ(count(table, 0x1f), 3u);
  EXPECT_EQ(find(table, 0x1f, 1)->eax, 2u);
  EXPECT_EQ(find(table, 0x1f, 1)->edx, 2u);
}

TEST(BuildVcpuCpuid, Leaf1fNotAddedWhenAbsent) {
  const auto table = build({.apic_id = 0, .vcpu_count = 2});

  EXPECT_EQ(count(table, 0x1f), 0u);
}

TEST(BuildVcpuCpuid, TopologyLeafAddedAndMaxLeafRaisedWhenHostLacksIt) {
  const std::vector<kvm_cpuid_entry2> host{entry(0x0, 0, 0x7, 0, 0, 0), entry(0x1, 0, 0, 0, 0, 0)};

  const auto table = build_vcpu_cpuid(host, {.apic_id = 1, .vcpu_count = 2});

  EXPECT_EQ(count(table, 0xb), 3u);
  EXPECT_EQ(find(table, 0x0)->eax, 0xbu);
}

TEST(BuildVcpuCpuid, Leaf4CoresPerPackageMatchesTopology) {
  const auto table = build({.apic_id = 0, .vcpu_count = 6});

  EXPECT_EQ(find(table, 0x4, 0)->eax >> 26, 7u);
  EXPECT_EQ((find(table, 0x4, 0)->eax >> 14) & 0xfff, 0u);  // L1d private to a core
  EXPECT_EQ((find(table, 0x4, 3)->eax >> 14) & 0xfff, 7u);  // L3 shared by the package
  EXPECT_EQ(find(table, 0x4, 4)->eax, 0u);                  // end of the list untouched
}

TEST(BuildVcpuCpuid, AmdCoreCountMatchesTopology) {
  const auto table = build({.apic_id = 0, .vcpu_count = 6});

  const std::uint32_t ecx = find(table, 0x80000008)->ecx;

  EXPECT_EQ(ecx & 0xff, 5u);
  EXPECT_EQ((ecx >> 12) & 0xf, 3u);
}

TEST(BuildVcpuCpuid, AmdCacheSharingMatchesTopology) {
  const auto table = build({.apic_id = 0, .vcpu_count = 6});

  EXPECT_EQ((find(table, 0x8000001d, 3)->eax >> 14) & 0xfff, 7u);
}

TEST(BuildVcpuCpuid, AmdTopologyLeafCarriesApicIdAndOneThreadPerCore) {
  const auto table = build({.apic_id = 4, .vcpu_count = 6});

  const kvm_cpuid_entry2* topo = find(table, 0x8000001e);

  EXPECT_EQ(topo->eax, 4u);
  EXPECT_EQ(topo->ebx, 4u);  // compute-unit id 4, threads per unit - 1 = 0
}

TEST(BuildVcpuCpuid, KvmHypervisorLeavesPassThrough) {
  const auto table = build({.apic_id = 0, .vcpu_count = 2});

  const kvm_cpuid_entry2* sig = find(table, 0x40000000);

  ASSERT_NE(sig, nullptr);
  char name[12];
  std::memcpy(name, &sig->ebx, 4);
  std::memcpy(name + 4, &sig->ecx, 4);
  std::memcpy(name + 8, &sig->edx, 4);
  EXPECT_EQ(std::string(name, 9), "KVMKVMKVM");
  EXPECT_EQ(find(table, 0x40000001)->eax, 0x01007afbu);
}

}  // namespace
}  // namespace heca::vmm

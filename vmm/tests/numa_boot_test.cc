// NUMA boot firmware of a multi-node guest: a 3-node description becomes SRAT proximity domains
// whose memory matches the nodes' homes and whose CPUs match the vCPU placement; plus the
// loader's RAM-offset to guest-physical mapping and the Linux PM block.
#include <gtest/gtest.h>

#include <algorithm>

#include "firmware/tests/firmware_test_util.h"
#include "vmm/cluster/guest_description.h"
#include "vmm/loader.h"
#include "vmm/node/node_vm.h"

namespace heca::vmm {
namespace {

using firmware::get_le;
using firmware::RamRange;
using firmware::testing::find_table;
using firmware::testing::srat_entries;

constexpr std::uint64_t kGiB = 1ull << 30;
const std::vector<std::uint8_t> kFlatCode = {0xf4, 0xeb, 0xfd};  // hlt; jmp .-1

// 5 GiB over three nodes: node 1's home straddles the MMIO hole (offsets 2..4 GiB).
constexpr std::string_view kThreeNodes = R"(
[guest]
memory = "5G"
kind = "test"

[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0, 1]
home = [{ start = "0", size = "2G" }]

[[node]]
id = 1
roles = ["compute", "memory"]
vcpus = [2]
home = [{ start = "2G", size = "2G" }]

[[node]]
id = 2
roles = ["compute", "memory"]
vcpus = [3, 4]
home = [{ start = "4G", size = "1G" }]
)";

struct MemoryAffinity {
  std::uint32_t domain;
  RamRange range;
  friend bool operator==(const MemoryAffinity& a, const MemoryAffinity& b) {
    return a.domain == b.domain && a.range.gpa == b.range.gpa && a.range.size == b.range.size;
  }
};

// The ACPI tables a plan writes at kAcpiBase (empty if there is no such write).
firmware::AcpiTables acpi_of(const firmware::BootPlan& plan) {
  const auto acpi = std::ranges::find(plan.writes, firmware::kAcpiBase, &firmware::GuestWrite::gpa);
  if (acpi == plan.writes.end()) return {};
  return {.base_gpa = firmware::kAcpiBase, .rsdp_gpa = firmware::kAcpiBase, .bytes = acpi->bytes};
}

// The plan the boot node builds for `description`, with a flat test image.
Result<firmware::BootPlan> plan_for(const cluster::GuestDescription& description) {
  return plan_guest_boot({.ram = firmware::pc_ram_layout(description.memory_bytes),
                          .vcpu_count = description.vcpu_count(),
                          .image = firmware::FlatImage{.image = kFlatCode},
                          .numa = node::numa_nodes_of(description)});
}

// A copy of table `signature` of the plan for `description`, or empty.
std::vector<std::uint8_t> table_of(const cluster::GuestDescription& description,
                                   std::string_view signature) {
  const auto plan = plan_for(description);
  if (!plan) return {};
  const auto tables = acpi_of(*plan);
  if (tables.bytes.empty()) return {};
  const auto table = find_table(tables, signature).value_or(std::span<const std::uint8_t>{});
  return {table.begin(), table.end()};
}

std::vector<std::uint8_t> srat_of(const cluster::GuestDescription& description) {
  return table_of(description, "SRAT");
}

std::vector<MemoryAffinity> memory_affinities(const std::vector<std::uint8_t>& srat) {
  std::vector<MemoryAffinity> out;
  for (const auto& [type, offset] : srat_entries(srat)) {
    if (type != 1) continue;
    out.push_back(
        {get_le<std::uint32_t>(srat, offset + 2),
         {get_le<std::uint64_t>(srat, offset + 8), get_le<std::uint64_t>(srat, offset + 16)}});
  }
  return out;
}

// Proximity domain of each local APIC affinity entry, in APIC id order.
std::vector<std::uint32_t> cpu_domains(const std::vector<std::uint8_t>& srat) {
  std::vector<std::uint32_t> domains(5, UINT32_MAX);
  for (const auto& [type, offset] : srat_entries(srat)) {
    if (type != 0 || srat[offset + 3] >= domains.size()) continue;
    domains[srat[offset + 3]] = srat[offset + 2];
  }
  return domains;
}

cluster::GuestDescription three_nodes() {
  return cluster::parse_guest_description(kThreeNodes, "three.toml").value();
}

TEST(NumaBoot, SratMemoryAffinityMatchesTheHomesSplitAroundTheMmioHole) {
  const auto srat = srat_of(three_nodes());

  const std::vector<MemoryAffinity> expected = {
      {0, {0, 2 * kGiB}},
      {1, {2 * kGiB, kGiB}},
      {1, {4 * kGiB, kGiB}},
      {2, {5 * kGiB, kGiB}},
  };
  EXPECT_EQ(memory_affinities(srat), expected);
}

TEST(NumaBoot, SratCpuDomainsMatchTheVcpuPlacement) {
  const auto srat = srat_of(three_nodes());

  EXPECT_EQ(cpu_domains(srat), (std::vector<std::uint32_t>{0, 0, 1, 2, 2}));
}

TEST(NumaBoot, SlitIsTenLocalTwentyRemote) {
  const auto slit = table_of(three_nodes(), "SLIT");

  ASSERT_EQ(slit.size(), 44u + 9u);
  const std::vector<std::uint8_t> matrix(slit.begin() + 44, slit.end());
  EXPECT_EQ(matrix, (std::vector<std::uint8_t>{10, 20, 20, 20, 10, 20, 20, 20, 10}));
}

TEST(NumaBoot, SingleNodeGuestHasNoNumaNodes) {
  auto description = three_nodes();
  description.nodes.resize(1);

  EXPECT_TRUE(node::numa_nodes_of(description).empty());
}

TEST(NumaBoot, VcpuOnNoNodeIsAnError) {
  const auto ram = firmware::pc_ram_layout(kGiB);
  const auto plan = plan_guest_boot({.ram = ram,
                                     .vcpu_count = 3,
                                     .image = firmware::FlatImage{.image = kFlatCode},
                                     .numa = {{.vcpus = {0}, .ram = {{0, kGiB / 2}}},
                                              {.vcpus = {1}, .ram = {{kGiB / 2, kGiB / 2}}}}});

  ASSERT_FALSE(plan.has_value());
  EXPECT_NE(plan.error().message().find("vCPU 2 is on no NUMA node"), std::string::npos)
      << plan.error().message();
}

TEST(NumaBoot, HomeBeyondRamIsAnError) {
  const auto ram = firmware::pc_ram_layout(kGiB);
  const auto plan = plan_guest_boot({.ram = ram,
                                     .vcpu_count = 1,
                                     .image = firmware::FlatImage{.image = kFlatCode},
                                     .numa = {{.vcpus = {0}, .ram = {{0, 2 * kGiB}}}}});

  ASSERT_FALSE(plan.has_value());
  EXPECT_NE(plan.error().message().find("reach past"), std::string::npos) << plan.error().message();
}

TEST(RamSpanGpas, SplitsAroundTheMmioHole) {
  const auto ram = firmware::pc_ram_layout(4 * kGiB);

  const auto gpas = ram_span_gpas(ram, {.offset = 2 * kGiB, .size = 2 * kGiB}).value();

  ASSERT_EQ(gpas.size(), 2u);
  EXPECT_EQ(gpas[0].gpa, 2 * kGiB);
  EXPECT_EQ(gpas[0].size, kGiB);
  EXPECT_EQ(gpas[1].gpa, firmware::kMmioHoleEnd);
  EXPECT_EQ(gpas[1].size, kGiB);
}

TEST(LinuxPmBlock, LinuxGuestsGetTheFadtPmBlockAt0x600) {
  const auto bz = firmware::testing::make_bzimage();
  const auto plan = plan_guest_boot({.ram = firmware::pc_ram_layout(kGiB),
                                     .vcpu_count = 2,
                                     .image = firmware::LinuxImage{bz, {}}})
                        .value();
  const auto tables = acpi_of(plan);

  const auto fadt = find_table(tables, "FACP");

  ASSERT_TRUE(fadt.has_value());
  EXPECT_EQ(get_le<std::uint32_t>(*fadt, 56), 0x600u);  // PM1a_EVT_BLK
  EXPECT_EQ(get_le<std::uint32_t>(*fadt, 64), 0x604u);  // PM1a_CNT_BLK
  EXPECT_EQ(get_le<std::uint32_t>(*fadt, 76), 0x608u);  // PM_TMR_BLK
}

TEST(LinuxPmBlock, TestGuestsGetNone) {
  const auto plan = plan_guest_boot({.ram = firmware::pc_ram_layout(kGiB),
                                     .vcpu_count = 2,
                                     .image = firmware::FlatImage{.image = kFlatCode}})
                        .value();
  const auto tables = acpi_of(plan);

  const auto fadt = find_table(tables, "FACP");

  ASSERT_TRUE(fadt.has_value());
  EXPECT_EQ(get_le<std::uint32_t>(*fadt, 56), 0u);
}

}  // namespace
}  // namespace heca::vmm

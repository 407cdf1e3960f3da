#include <gtest/gtest.h>

#include "firmware/acpi.h"
#include "firmware/tests/firmware_test_util.h"

namespace heca::firmware {
namespace {

using testing::count_type;
using testing::find_table;
using testing::srat_entries;

constexpr std::uint64_t kGiB = 1ull << 30;

// Three nodes of 1 GiB each, with the third above the MMIO hole; two CPUs per node.
AcpiConfig three_node_config() {
  AcpiConfig config;
  config.cpus = {{0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 2}, {5, 2}};
  config.numa_nodes = {{0, {{0, kGiB}}}, {1, {{kGiB, kGiB}}}, {2, {{2 * kGiB, kGiB}, {kMmioHoleEnd, kGiB}}}};
  return config;
}

// A copy of one table built from `config`; empty if the build fails or the table is absent.
std::vector<std::uint8_t> table_of(const AcpiConfig& config, std::string_view signature) {
  const auto tables = build_acpi_tables(config);
  if (!tables) return {};
  const auto table = find_table(*tables, signature).value_or(std::span<const std::uint8_t>{});
  return {table.begin(), table.end()};
}

TEST(AcpiSrat, IsAbsentWithoutNumaNodes) {
  const auto tables = build_acpi_tables(testing::config_with_cpus(4));

  ASSERT_TRUE(tables.has_value());
  EXPECT_FALSE(find_table(*tables, "SRAT").has_value());
  EXPECT_FALSE(find_table(*tables, "SLIT").has_value());
}

TEST(AcpiSrat, HasOneProcessorAffinityPerCpu) {
  const auto srat = table_of(three_node_config(), "SRAT");

  EXPECT_EQ(count_type(srat_entries(srat), 0), 6u);
}

TEST(AcpiSrat, HasOneMemoryAffinityPerNodeRange) {
  const auto srat = table_of(three_node_config(), "SRAT");

  EXPECT_EQ(count_type(srat_entries(srat), 1), 4u);
}

TEST(AcpiSrat, ProcessorAffinityNamesTheCpusNode) {
  const auto srat = table_of(three_node_config(), "SRAT");
  const auto entries = srat_entries(srat);

  ASSERT_GE(entries.size(), 5u);
  const std::size_t fifth_cpu = entries[4].second;
  EXPECT_EQ(srat[fifth_cpu + 2], 2);  // proximity domain bits 7:0
  EXPECT_EQ(srat[fifth_cpu + 3], 4);  // APIC id
  EXPECT_EQ(get_le<std::uint32_t>(srat, fifth_cpu + 4), 1u);  // enabled
}

TEST(AcpiSrat, MemoryAffinityCarriesRangeDomainAndEnabled) {
  const auto srat = table_of(three_node_config(), "SRAT");
  const auto entries = srat_entries(srat);

  ASSERT_EQ(entries.size(), 10u);
  const std::size_t high_range = entries[9].second;
  EXPECT_EQ(srat[high_range + 1], 40);
  EXPECT_EQ(get_le<std::uint32_t>(srat, high_range + 2), 2u);
  EXPECT_EQ(get_le<std::uint64_t>(srat, high_range + 8), kMmioHoleEnd);
  EXPECT_EQ(get_le<std::uint64_t>(srat, high_range + 16), kGiB);
  EXPECT_EQ(get_le<std::uint32_t>(srat, high_range + 28), 1u);
}

TEST(AcpiSrat, LargeApicIdsUseX2apicAffinity) {
  AcpiConfig config;
  config.cpus = {{0, 0}, {300, 1}};
  config.numa_nodes = {{0, {{0, kGiB}}}, {1, {{kGiB, kGiB}}}};

  const auto srat = table_of(config, "SRAT");
  const auto entries = srat_entries(srat);

  ASSERT_EQ(count_type(entries, 2), 1u);
  const std::size_t x2apic = entries[1].second;
  EXPECT_EQ(srat[x2apic + 1], 24);
  EXPECT_EQ(get_le<std::uint32_t>(srat, x2apic + 4), 1u);
  EXPECT_EQ(get_le<std::uint32_t>(srat, x2apic + 8), 300u);
}

TEST(AcpiSlit, DefaultsToTenLocalTwentyRemote) {
  const auto slit = table_of(three_node_config(), "SLIT");

  ASSERT_EQ(slit.size(), 36u + 8u + 9u);
  EXPECT_EQ(get_le<std::uint64_t>(slit, 36), 3u);
  const std::vector<std::uint8_t> matrix(slit.begin() + 44, slit.end());
  EXPECT_EQ(matrix, (std::vector<std::uint8_t>{10, 20, 20, 20, 10, 20, 20, 20, 10}));
}

TEST(AcpiSlit, UsesTheGivenDistances) {
  AcpiConfig config = three_node_config();
  config.distances = {{10, 15, 30}, {15, 10, 30}, {30, 30, 10}};

  const auto slit = table_of(config, "SLIT");

  const std::vector<std::uint8_t> matrix(slit.begin() + 44, slit.end());
  EXPECT_EQ(matrix, (std::vector<std::uint8_t>{10, 15, 30, 15, 10, 30, 30, 30, 10}));
}

TEST(AcpiSlit, NonSquareDistanceMatrixIsAnError) {
  AcpiConfig config = three_node_config();
  config.distances = {{10, 20, 20}, {20, 10}, {20, 20, 10}};

  EXPECT_FALSE(build_acpi_tables(config).has_value());
}

TEST(AcpiSlit, WrongRowCountIsAnError) {
  AcpiConfig config = three_node_config();
  config.distances = {{10, 20, 20}, {20, 10, 20}};

  EXPECT_FALSE(build_acpi_tables(config).has_value());
}

TEST(AcpiSlit, NonTenLocalDistanceIsAnError) {
  AcpiConfig config = three_node_config();
  config.distances = {{10, 20, 20}, {20, 11, 20}, {20, 20, 10}};

  EXPECT_FALSE(build_acpi_tables(config).has_value());
}

TEST(AcpiSlit, RemoteDistanceNotAboveLocalIsAnError) {
  AcpiConfig config = three_node_config();
  config.distances = {{10, 10, 20}, {10, 10, 20}, {20, 20, 10}};

  EXPECT_FALSE(build_acpi_tables(config).has_value());
}

TEST(AcpiNuma, CpuOnUnknownNodeIsAnError) {
  AcpiConfig config = three_node_config();
  config.cpus.push_back({6, 3});

  EXPECT_FALSE(build_acpi_tables(config).has_value());
}

TEST(AcpiNuma, NodeIdsOutOfOrderAreAnError) {
  AcpiConfig config = three_node_config();
  config.numa_nodes[1].id = 2;
  config.numa_nodes[2].id = 1;

  EXPECT_FALSE(build_acpi_tables(config).has_value());
}

}  // namespace
}  // namespace heca::firmware

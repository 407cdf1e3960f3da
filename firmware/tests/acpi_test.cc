#include "firmware/acpi.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "firmware/tests/firmware_test_util.h"

namespace heca::firmware {
namespace {

using testing::byte_sum;
using testing::config_with_cpus;
using testing::count_type;
using testing::find_table;
using testing::madt_entries;
using testing::table_at;
using testing::xsdt_entries;

AcpiTables build_ok(const AcpiConfig& config) {
  auto tables = build_acpi_tables(config);
  EXPECT_TRUE(tables.has_value()) << (tables ? "" : tables.error().message());
  return tables ? std::move(*tables) : AcpiTables{};
}

std::span<const std::uint8_t> must_find(const AcpiTables& tables, std::string_view signature) {
  const auto table = find_table(tables, signature);
  EXPECT_TRUE(table.has_value()) << signature << " not reachable from the RSDP";
  return table.value_or(std::span<const std::uint8_t>{});
}

// A copy of one table of the tables built from `config`.
std::vector<std::uint8_t> table_of(const AcpiConfig& config, std::string_view signature) {
  const AcpiTables tables = build_ok(config);
  const auto table = must_find(tables, signature);
  return {table.begin(), table.end()};
}

TEST(AcpiRsdp, IsFirstAtBaseWithRevision2) {
  const auto tables = build_ok(config_with_cpus(1));

  EXPECT_EQ(tables.rsdp_gpa, kAcpiBase);
  EXPECT_EQ(tables.base_gpa, kAcpiBase);
  EXPECT_EQ(std::string(tables.bytes.begin(), tables.bytes.begin() + 8), "RSD PTR ");
  EXPECT_EQ(tables.bytes[15], 2);
  EXPECT_EQ(get_le<std::uint32_t>(std::span<const std::uint8_t>(tables.bytes), 20), 36u);
}

TEST(AcpiRsdp, BothChecksumsSumToZero) {
  const auto tables = build_ok(config_with_cpus(1));
  const std::span<const std::uint8_t> rsdp = std::span(tables.bytes).first(36);

  EXPECT_EQ(byte_sum(rsdp.first(20)), 0u);
  EXPECT_EQ(byte_sum(rsdp), 0u);
}

TEST(AcpiXsdt, PointsAtFadtAndMadtWithoutNuma) {
  const auto tables = build_ok(config_with_cpus(2));

  const auto entries = xsdt_entries(tables);

  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(testing::signature_of(table_at(tables, entries[0])), "FACP");
  EXPECT_EQ(testing::signature_of(table_at(tables, entries[1])), "APIC");
}

TEST(AcpiXsdt, PointsAtSratAndSlitWithNuma) {
  AcpiConfig config = config_with_cpus(2);
  config.numa_nodes = {{0, {{0, 1u << 30}}}, {1, {{1u << 30, 1u << 30}}}};

  const auto tables = build_ok(config);

  const auto entries = xsdt_entries(tables);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(testing::signature_of(table_at(tables, entries[2])), "SRAT");
  EXPECT_EQ(testing::signature_of(table_at(tables, entries[3])), "SLIT");
}

TEST(AcpiTables, EveryTableHasAValidChecksumAndFitsInTheBlob) {
  AcpiConfig config = config_with_cpus(4);
  config.numa_nodes = {{0, {{0, 1u << 30}}}, {1, {{1u << 30, 1u << 30}}}};
  const auto tables = build_ok(config);

  for (const char* signature : {"XSDT", "FACP", "DSDT", "APIC", "SRAT", "SLIT"}) {
    const auto table = signature == std::string_view("XSDT") ? testing::xsdt_of(tables) : must_find(tables, signature);
    EXPECT_EQ(testing::signature_of(table), signature);
    EXPECT_EQ(byte_sum(table), 0u) << signature;
    EXPECT_EQ(std::string(table.begin() + 10, table.begin() + 16), "HECA  ") << signature;
  }
}

TEST(AcpiTables, AreWithinTheReservedArea) {
  const auto tables = build_ok(config_with_cpus(300));

  EXPECT_LE(tables.bytes.size(), kAcpiMax);
}

TEST(AcpiTables, PointersFollowTheBaseAddress) {
  AcpiConfig config = config_with_cpus(2);
  config.base_gpa = 0x8'0000;

  const auto tables = build_ok(config);

  EXPECT_EQ(tables.rsdp_gpa, 0x8'0000u);
  EXPECT_EQ(testing::signature_of(testing::xsdt_of(tables)), "XSDT");
  EXPECT_TRUE(find_table(tables, "APIC").has_value());
}

TEST(AcpiTables, MisalignedBaseIsAnError) {
  AcpiConfig config = config_with_cpus(1);
  config.base_gpa = kAcpiBase + 8;

  EXPECT_FALSE(build_acpi_tables(config).has_value());
}

TEST(AcpiTables, NoCpusIsAnError) {
  const auto tables = build_acpi_tables(AcpiConfig{});

  ASSERT_FALSE(tables.has_value());
  EXPECT_NE(tables.error().what.find("no CPUs"), std::string::npos);
}

TEST(AcpiTables, DuplicateApicIdIsAnError) {
  AcpiConfig config;
  config.cpus = {{3, 0}, {3, 0}};

  EXPECT_FALSE(build_acpi_tables(config).has_value());
}

TEST(AcpiTables, TooManyCpusForTheReservedAreaIsAnError) {
  const auto tables = build_acpi_tables(config_with_cpus(10000));

  ASSERT_FALSE(tables.has_value());
  EXPECT_NE(tables.error().what.find("bytes"), std::string::npos);
}

TEST(AcpiFadt, IsRevision6WithDsdtPointersAndSci9) {
  const auto tables = build_ok(config_with_cpus(1));
  const auto fadt = must_find(tables, "FACP");
  const auto dsdt = must_find(tables, "DSDT");
  const std::uint64_t dsdt_gpa = tables.base_gpa + static_cast<std::uint64_t>(dsdt.data() - tables.bytes.data());

  EXPECT_EQ(fadt.size(), 276u);
  EXPECT_EQ(fadt[8], 6);
  EXPECT_EQ(get_le<std::uint32_t>(fadt, 40), dsdt_gpa);
  EXPECT_EQ(get_le<std::uint64_t>(fadt, 140), dsdt_gpa);
  EXPECT_EQ(get_le<std::uint16_t>(fadt, 46), 9u);
}

TEST(AcpiFadt, PointsAtA64ByteAlignedFacs) {
  const auto tables = build_ok(config_with_cpus(1));
  const auto fadt = must_find(tables, "FACP");

  const std::uint32_t facs_gpa = get_le<std::uint32_t>(fadt, 36);
  const auto facs = std::span<const std::uint8_t>(tables.bytes).subspan(facs_gpa - tables.base_gpa, 64);
  EXPECT_EQ(facs_gpa % 64, 0u);
  EXPECT_EQ(testing::signature_of(facs), "FACS");
  EXPECT_EQ(get_le<std::uint32_t>(facs, 4), 64u);
  EXPECT_EQ(get_le<std::uint64_t>(fadt, 132), 0u);
}

TEST(AcpiFadt, IsNotHardwareReduced) {
  const auto fadt = table_of(config_with_cpus(1), "FACP");

  EXPECT_EQ(get_le<std::uint32_t>(fadt, 112) & (1u << 20), 0u);
}

TEST(AcpiFadt, BootFlagsSayNo8042AndNoVga) {
  const auto fadt = table_of(config_with_cpus(1), "FACP");

  const auto boot_arch = get_le<std::uint16_t>(fadt, 109);
  EXPECT_EQ(boot_arch & (1u << 1), 0u);
  EXPECT_NE(boot_arch & (1u << 2), 0u);
}

TEST(AcpiFadt, DescribesThePmBlockWhenGivenABase) {
  AcpiConfig config = config_with_cpus(1);
  config.pm_io_base = 0x600;

  const auto fadt = table_of(config, "FACP");

  EXPECT_EQ(get_le<std::uint32_t>(fadt, 56), 0x600u);
  EXPECT_EQ(get_le<std::uint32_t>(fadt, 64), 0x604u);
  EXPECT_EQ(get_le<std::uint64_t>(fadt, 172 + 4), 0x604u);
  EXPECT_EQ(fadt[89], 2);
}

TEST(AcpiDsdt, HoldsAnS5Package) {
  const auto dsdt = table_of(config_with_cpus(1), "DSDT");
  const std::string aml(dsdt.begin() + 36, dsdt.end());

  EXPECT_EQ(dsdt[8], 2);
  EXPECT_EQ(aml.substr(0, 5), std::string("\x08_S5_"));
  EXPECT_EQ(static_cast<std::uint8_t>(aml[5]), 0x12);
}

TEST(AcpiMadt, HasLapicAddressAndPcatCompat) {
  const auto madt = table_of(config_with_cpus(1), "APIC");

  EXPECT_EQ(get_le<std::uint32_t>(madt, 36), kLapicAddr);
  EXPECT_EQ(get_le<std::uint32_t>(madt, 40), 1u);
}

TEST(AcpiMadt, OneLocalApicForOneCpu) {
  const auto entries = madt_entries(table_of(config_with_cpus(1), "APIC"));

  EXPECT_EQ(count_type(entries, 0), 1u);
  EXPECT_EQ(count_type(entries, 9), 0u);
}

TEST(AcpiMadt, FourLocalApicsForFourCpus) {
  const auto entries = madt_entries(table_of(config_with_cpus(4), "APIC"));

  EXPECT_EQ(count_type(entries, 0), 4u);
}

TEST(AcpiMadt, CpusBeyondApicId254UseX2apicEntries) {
  const auto entries = madt_entries(table_of(config_with_cpus(300), "APIC"));

  EXPECT_EQ(count_type(entries, 0), 255u);
  EXPECT_EQ(count_type(entries, 9), 45u);
}

TEST(AcpiMadt, X2apicEntryCarriesTheFullApicId) {
  const auto madt = table_of(config_with_cpus(300), "APIC");
  const auto entries = madt_entries(madt);
  const auto first_x2apic = std::ranges::find(entries, std::uint8_t{9}, &std::pair<std::uint8_t, std::size_t>::first);

  ASSERT_NE(first_x2apic, entries.end());
  EXPECT_EQ(madt[first_x2apic->second + 1], 16);
  EXPECT_EQ(get_le<std::uint32_t>(madt, first_x2apic->second + 4), 255u);
  EXPECT_EQ(get_le<std::uint32_t>(madt, first_x2apic->second + 8) & 1u, 1u);
}

TEST(AcpiMadt, BspComesFirst) {
  AcpiConfig config;
  config.cpus = {{7, 0}, {1, 0}};
  const auto madt = table_of(config, "APIC");

  EXPECT_EQ(madt[44], 0);
  EXPECT_EQ(madt[44 + 3], 7);
}

TEST(AcpiMadt, HasOneIoApicAtGsiZero) {
  const auto madt = table_of(config_with_cpus(4), "APIC");
  const auto entries = madt_entries(madt);
  const auto io_apic = std::ranges::find(entries, std::uint8_t{1}, &std::pair<std::uint8_t, std::size_t>::first);

  ASSERT_EQ(count_type(entries, 1), 1u);
  EXPECT_EQ(madt[io_apic->second + 2], 4);
  EXPECT_EQ(get_le<std::uint32_t>(madt, io_apic->second + 4), kIoApicAddr);
  EXPECT_EQ(get_le<std::uint32_t>(madt, io_apic->second + 8), 0u);
}

TEST(AcpiMadt, IoApicIdIsCappedAt0xfe) {
  const auto madt = table_of(config_with_cpus(300), "APIC");
  const auto entries = madt_entries(madt);
  const auto io_apic = std::ranges::find(entries, std::uint8_t{1}, &std::pair<std::uint8_t, std::size_t>::first);

  ASSERT_NE(io_apic, entries.end());
  EXPECT_EQ(madt[io_apic->second + 2], 0xfe);
}

TEST(AcpiMadt, OverridesIrq0ToGsi2AndSciAsLevelHigh) {
  const auto madt = table_of(config_with_cpus(1), "APIC");
  const auto entries = madt_entries(madt);
  const auto first = std::ranges::find(entries, std::uint8_t{2}, &std::pair<std::uint8_t, std::size_t>::first);

  ASSERT_EQ(count_type(entries, 2), 2u);
  const std::size_t irq0 = first->second;
  const std::size_t sci = std::next(first)->second;
  EXPECT_EQ(madt[irq0 + 3], 0);
  EXPECT_EQ(get_le<std::uint32_t>(madt, irq0 + 4), 2u);
  EXPECT_EQ(madt[sci + 3], 9);
  EXPECT_EQ(get_le<std::uint32_t>(madt, sci + 4), 9u);
  EXPECT_EQ(get_le<std::uint16_t>(madt, sci + 8), 0x000du);
}

}  // namespace
}  // namespace heca::firmware

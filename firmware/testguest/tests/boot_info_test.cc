#include "firmware/testguest/boot_info.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "firmware/acpi.h"

namespace heca::firmware::guest {
namespace {

// ACPI tables built for, and placed at, a host buffer's address so the guest parser can walk them.
struct HostAcpi {
  explicit HostAcpi(const std::vector<std::uint32_t>& apic_ids, std::uint64_t mailbox = 0)
      : buffer(kAcpiMax + 16) {
    AcpiConfig config;
    config.mp_wakeup_mailbox_gpa = mailbox;
    for (const std::uint32_t id : apic_ids) config.cpus.push_back({id, 0});
    const auto base = reinterpret_cast<std::uint64_t>(buffer.data());
    config.base_gpa = (base + 15) & ~std::uint64_t{15};
    auto tables = build_acpi_tables(config);
    EXPECT_TRUE(tables.has_value());
    std::memcpy(reinterpret_cast<void*>(config.base_gpa), tables->bytes.data(), tables->bytes.size());
    rsdp = tables->rsdp_gpa;
  }
  std::vector<std::uint8_t> buffer;
  std::uint64_t rsdp = 0;
};

TEST(TestGuestCmdline, ParsesItsKeysAndIgnoresOthers) {
  GuestConfig config;

  const char* error = parse_cmdline("console=ttyS0 iters=1000  mbw_kib=64 tsc_khz=2500000 fault=lost_update", &config);

  EXPECT_EQ(error, nullptr);
  EXPECT_EQ(config.iters, 1000U);
  EXPECT_EQ(config.mbw_kib, 64U);
  EXPECT_EQ(config.tsc_khz, 2500000U);
  EXPECT_TRUE(config.lost_update);
}

TEST(TestGuestCmdline, KeepsDefaultsForAnEmptyCmdline) {
  GuestConfig config;

  const char* error = parse_cmdline("", &config);

  EXPECT_EQ(error, nullptr);
  EXPECT_EQ(config.iters, 200000U);
  EXPECT_EQ(config.mbw_kib, 4096U);
  EXPECT_EQ(config.tsc_khz, 0U);
  EXPECT_FALSE(config.lost_update);
  EXPECT_EQ(config.litmus_blob, 0U);
}

TEST(TestGuestCmdline, RejectsAMalformedNumber) {
  GuestConfig config;

  EXPECT_NE(parse_cmdline("iters=12x", &config), nullptr);
}

TEST(TestGuestCmdline, ReadsTheLitmusBlobAddressInHex) {
  GuestConfig config;

  const char* error = parse_cmdline("iters=5 litmus=0x2000000", &config);

  EXPECT_EQ(error, nullptr);
  EXPECT_EQ(config.litmus_blob, 0x2000000U);
}

TEST(TestGuestCmdline, RejectsAMalformedLitmusAddress) {
  GuestConfig config;

  EXPECT_NE(parse_cmdline("litmus=2000000", &config), nullptr);
  EXPECT_NE(parse_cmdline("litmus=0x", &config), nullptr);
  EXPECT_NE(parse_cmdline("litmus=0x0", &config), nullptr);
  EXPECT_NE(parse_cmdline("litmus=0x12g", &config), nullptr);
}

TEST(TestGuestCmdline, ReadsTheTripleFault) {
  GuestConfig config;

  const char* error = parse_cmdline("fault=triple_fault", &config);

  ASSERT_EQ(error, nullptr);
  EXPECT_TRUE(config.triple_fault);
}

TEST(TestGuestCmdline, RejectsAnUnknownFault) {
  GuestConfig config;

  EXPECT_NE(parse_cmdline("fault=lost_updates", &config), nullptr);
}

TEST(TestGuestCmdline, ReadsTheIpiRoundsAndIpiFaults) {
  GuestConfig config;

  const char* error = parse_cmdline("ipi=25 fault=double_ipi", &config);

  EXPECT_EQ(error, nullptr);
  EXPECT_EQ(config.ipi_rounds, 25U);
  EXPECT_EQ(config.ipi_fault, IpiFault::kDouble);
  EXPECT_FALSE(config.lost_update);
}

TEST(TestGuestCmdline, ReadsTheCheckInTimeoutAndRejectsZero) {
  GuestConfig config;
  EXPECT_EQ(config.checkin_s, 30U);

  EXPECT_EQ(parse_cmdline("checkin_s=120", &config), nullptr);
  EXPECT_EQ(config.checkin_s, 120U);
  EXPECT_NE(parse_cmdline("checkin_s=0", &config), nullptr);
}

TEST(TestGuestCmdline, RejectsAMalformedIpiCount) {
  GuestConfig config;

  EXPECT_NE(parse_cmdline("ipi=", &config), nullptr);
  EXPECT_NE(parse_cmdline("ipi=-1", &config), nullptr);
}

TEST(TestGuestMadt, ListsTheApicIdsInVcpuOrder) {
  const HostAcpi acpi({0, 1, 2, 3});
  CpuTable cpus;

  const char* error = parse_madt(acpi.rsdp, &cpus);

  ASSERT_EQ(error, nullptr);
  ASSERT_EQ(cpus.count, 4U);
  EXPECT_EQ(cpus.apic_ids[0], 0U);
  EXPECT_EQ(cpus.apic_ids[3], 3U);
}

TEST(TestGuestMadt, ReadsApicIdsAbove255) {
  const HostAcpi acpi({0, 300});
  CpuTable cpus;

  const char* error = parse_madt(acpi.rsdp, &cpus);

  ASSERT_EQ(error, nullptr);
  ASSERT_EQ(cpus.count, 2U);
  EXPECT_EQ(cpus.apic_ids[1], 300U);
}

TEST(TestGuestMadt, FindsTheWakeupMailbox) {
  const HostAcpi acpi({0, 1}, 0xD0000);
  CpuTable cpus;

  const char* error = parse_madt(acpi.rsdp, &cpus);

  ASSERT_EQ(error, nullptr);
  EXPECT_EQ(cpus.wakeup_mailbox, 0xD0000U);
}

TEST(TestGuestMadt, HasNoMailboxWithoutTheWakeupStructure) {
  const HostAcpi acpi({0, 1});
  CpuTable cpus;

  const char* error = parse_madt(acpi.rsdp, &cpus);

  ASSERT_EQ(error, nullptr);
  EXPECT_EQ(cpus.wakeup_mailbox, 0U);
}

TEST(TestGuestMadt, RejectsAMissingRsdp) {
  CpuTable cpus;

  EXPECT_NE(parse_madt(0, &cpus), nullptr);
}

TEST(TestGuestE820, CoversOnlyRangesInsideOneRamEntry) {
  std::vector<std::uint8_t> boot_params(4096, 0);
  const std::uint64_t ram[3] = {0x100000, 0x3F00000, 1};  // addr, size, type (u32)
  std::memcpy(&boot_params[kBpE820Table], ram, 20);
  boot_params[kBpE820Entries] = 1;
  const auto bp = reinterpret_cast<std::uint64_t>(boot_params.data());

  EXPECT_TRUE(e820_covers(bp, 0x400000, 0x4000000));
  EXPECT_FALSE(e820_covers(bp, 0x400000, 0x4000001));
  EXPECT_EQ(e820_ram_end(bp), 0x4000000U);
}

}  // namespace
}  // namespace heca::firmware::guest

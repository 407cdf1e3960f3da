// The AP wakeup firmware: the MADT Multiprocessor Wakeup structure, the park loop's bytes and
// the region's placement among the other boot writes.
#include "firmware/ap_wakeup.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "firmware/acpi.h"
#include "firmware/boot_plan.h"
#include "firmware/e820.h"
#include "firmware/long_mode.h"
#include "firmware/tests/firmware_test_util.h"

namespace heca::firmware {
namespace {

using testing::count_type;
using testing::find_table;
using testing::madt_entries;
using testing::make_bzimage;

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint8_t kMpWakeupType = 0x10;
const std::vector<std::uint8_t> kFlatCode = {0xf4, 0xeb, 0xfd};  // hlt; jmp .-1

std::vector<std::uint8_t> madt_of(const AcpiConfig& config) {
  const auto tables = build_acpi_tables(config);
  if (!tables) return {};
  const auto madt = find_table(*tables, "APIC").value_or(std::span<const std::uint8_t>{});
  return {madt.begin(), madt.end()};
}

// Offset of the first MADT structure of `type`, or 0.
std::size_t madt_offset_of(std::span<const std::uint8_t> madt, std::uint8_t type) {
  const auto entries = madt_entries(madt);
  const auto it = std::ranges::find(entries, type, &std::pair<std::uint8_t, std::size_t>::first);
  return it == entries.end() ? 0 : it->second;
}

AcpiConfig config_with_mailbox(std::uint64_t mailbox_gpa) {
  AcpiConfig config = testing::config_with_cpus(4);
  config.mp_wakeup_mailbox_gpa = mailbox_gpa;
  return config;
}

BootPlan plan_of(std::variant<FlatImage, LinuxImage> image,
                 ApStartup startup = ApStartup::kByImage) {
  auto plan = plan_boot({.ram = pc_ram_layout(kGiB),
                         .acpi = testing::config_with_cpus(2),
                         .cmdline = "console=ttyS0",
                         .image = image,
                         .ap_startup = startup});
  EXPECT_TRUE(plan.has_value()) << (plan ? "" : plan.error().message());
  return plan ? std::move(*plan) : BootPlan{};
}

const GuestWrite* write_at(const BootPlan& plan, std::uint64_t gpa) {
  const auto it = std::ranges::find(plan.writes, gpa, &GuestWrite::gpa);
  return it == plan.writes.end() ? nullptr : &*it;
}

// The MADT of a boot plan, read back from its ACPI write.
std::vector<std::uint8_t> plan_madt(const BootPlan& plan) {
  const GuestWrite* acpi = write_at(plan, kAcpiBase);
  if (acpi == nullptr) return {};
  const AcpiTables tables{.base_gpa = kAcpiBase, .rsdp_gpa = kAcpiBase, .bytes = acpi->bytes};
  const auto madt = find_table(tables, "APIC").value_or(std::span<const std::uint8_t>{});
  return {madt.begin(), madt.end()};
}

TEST(AcpiMpWakeup, MadtEntryHasTypeLengthVersionAndMailboxAddress) {
  const auto madt = madt_of(config_with_mailbox(ApWakeupLayout::kMailbox));

  const std::size_t entry = madt_offset_of(madt, kMpWakeupType);
  ASSERT_NE(entry, 0u);
  EXPECT_EQ(madt[entry + 1], 16);
  EXPECT_EQ(get_le<std::uint16_t>(madt, entry + 2), 0u);  // mailbox version
  EXPECT_EQ(get_le<std::uint32_t>(madt, entry + 4), 0u);  // reserved
  EXPECT_EQ(get_le<std::uint64_t>(madt, entry + 8), 0xD0000u);
}

TEST(AcpiMpWakeup, MadtWithTheEntryStillSumsToZero) {
  const auto madt = madt_of(config_with_mailbox(ApWakeupLayout::kMailbox));

  ASSERT_FALSE(madt.empty());
  EXPECT_EQ(testing::byte_sum(madt), 0u);
}

TEST(AcpiMpWakeup, NoEntryWithoutAMailbox) {
  const auto madt = madt_of(config_with_mailbox(0));

  EXPECT_EQ(count_type(madt_entries(madt), kMpWakeupType), 0u);
}

TEST(AcpiMpWakeup, MisalignedMailboxIsAnError) {
  const auto tables = build_acpi_tables(config_with_mailbox(ApWakeupLayout::kMailbox + 8));

  ASSERT_FALSE(tables.has_value());
  EXPECT_NE(tables.error().message().find("not 4 KiB aligned"), std::string::npos);
}

TEST(ApParkCode, IsTheHandAssembledLoop) {
  const std::vector<std::uint8_t> expected = {
      0xBE, 0x00, 0x00, 0x0D, 0x00,        // mov esi, 0xd0000
      0x3B, 0x5E, 0x04, 0x75, 0x18,        // cmp ebx, [rsi+4]; jne wait
      0x66, 0x83, 0x3E, 0x01, 0x75, 0x12,  // cmp word [rsi], 1; jne wait
      0x89, 0xD8, 0x66, 0xBA, 0x10, 0x05,  // mov eax, ebx; mov dx, 0x510
      0xEF,                                // out dx, eax
      0x48, 0x8B, 0x46, 0x08,              // mov rax, [rsi+8]
      0x66, 0xC7, 0x06, 0x00, 0x00,        // mov word [rsi], 0
      0xFF, 0xE0,                          // jmp rax
      0xF4, 0xEB, 0xE0,                    // wait: hlt; jmp loop
  };

  EXPECT_EQ(build_ap_park_code(), expected);
}

TEST(ApParkCode, BranchesLandOnTheWaitAndLoopLabels) {
  const auto code = build_ap_park_code();
  const auto target = [&](std::size_t jcc) {
    return static_cast<std::int64_t>(jcc) + 2 + static_cast<std::int8_t>(code.at(jcc + 1));
  };

  EXPECT_EQ(target(0x08), 0x22);  // jne wait
  EXPECT_EQ(target(0x0e), 0x22);  // jne wait
  EXPECT_EQ(code.at(0x22), 0xF4);  // wait: hlt
  EXPECT_EQ(target(0x23), 0x05);  // jmp loop
  EXPECT_EQ(code.size(), 0x25u);
}

TEST(ApWakeupRegion, MailboxStartsIdleAndAddressedToNoCpu) {
  const auto region = build_ap_wakeup_region();

  EXPECT_EQ(region.size(), kApWakeupSize);
  EXPECT_EQ(get_le<std::uint16_t>(region, kMailboxCommand), 0u);
  EXPECT_EQ(get_le<std::uint32_t>(region, kMailboxApicId), kMailboxNoApic);
  EXPECT_EQ(get_le<std::uint64_t>(region, kMailboxWakeupVector), 0u);
}

TEST(ApWakeupRegion, HoldsTheParkCodeAndTheBootGdt) {
  const auto region = build_ap_wakeup_region();
  const auto code = build_ap_park_code();
  const std::size_t code_at = ApWakeupLayout::kParkCode - kApWakeupBase;
  const std::size_t gdt_at = ApWakeupLayout::kGdt - kApWakeupBase;

  EXPECT_TRUE(
      std::equal(code.begin(), code.end(), region.begin() + static_cast<std::ptrdiff_t>(code_at)));
  EXPECT_EQ(region[code_at + code.size()], 0xCC);                              // int3 padding
  EXPECT_EQ(get_le<std::uint64_t>(region, gdt_at + 16), build_boot_gdt()[2]);  // code64 at kBootCs
  EXPECT_EQ(get_le<std::uint64_t>(region, gdt_at + 24), build_boot_gdt()[3]);  // data at kBootDs
}

TEST(ApWakeupRegion, PageTablesIdentityMapTheFirstFourGiB) {
  const auto region = build_ap_wakeup_region();
  const auto at = [&](std::uint64_t gpa) {
    return get_le<std::uint64_t>(region, gpa - kApWakeupBase);
  };

  EXPECT_EQ(at(ApWakeupLayout::kPml4), ApWakeupLayout::kPdpt | 3);
  EXPECT_EQ(at(ApWakeupLayout::kPdpt + 3 * 8), (ApWakeupLayout::kPd + 3 * kPageSize) | 3);
  EXPECT_EQ(at(ApWakeupLayout::kPd), 0x83u);
  EXPECT_EQ(at(ApWakeupLayout::kPd + 4 * kPageSize - 8), (4 * kGiB - (2u << 20)) | 0x83);
}

TEST(ApWakeupRegion, LiesInTheReservedLegacyHole) {
  const auto e820 = build_e820(pc_ram_layout(kGiB));

  const auto reserved = std::ranges::find(e820, E820Type::kReserved, &E820Entry::type);
  ASSERT_NE(reserved, e820.end());
  EXPECT_LE(reserved->addr, kApWakeupBase);
  EXPECT_GE(reserved->addr + reserved->size, kApWakeupBase + kApWakeupSize);
}

TEST(PlanBootApStartup, LinuxAPsStartInTheParkLoop) {
  const auto bz = make_bzimage();

  const auto plan = plan_of(LinuxImage{bz, {}});

  EXPECT_EQ(plan.ap_entry_rip, ApWakeupLayout::kParkCode);
  ASSERT_NE(write_at(plan, kApWakeupBase), nullptr);
  EXPECT_EQ(write_at(plan, kApWakeupBase)->bytes, build_ap_wakeup_region());
}

TEST(PlanBootApStartup, LinuxMadtPointsAtTheMailbox) {
  const auto bz = make_bzimage();

  const auto madt = plan_madt(plan_of(LinuxImage{bz, {}}));

  const std::size_t entry = madt_offset_of(madt, kMpWakeupType);
  ASSERT_NE(entry, 0u);
  EXPECT_EQ(get_le<std::uint64_t>(madt, entry + 8), ApWakeupLayout::kMailbox);
}

TEST(PlanBootApStartup, FlatImageKeepsInitSipi) {
  const auto plan = plan_of(FlatImage{kFlatCode});

  EXPECT_EQ(plan.ap_entry_rip, 0u);
  EXPECT_EQ(write_at(plan, kApWakeupBase), nullptr);
  EXPECT_EQ(count_type(madt_entries(plan_madt(plan)), kMpWakeupType), 0u);
}

TEST(PlanBootApStartup, FlatImageMayAskForTheMailbox) {
  const auto plan = plan_of(FlatImage{kFlatCode}, ApStartup::kWakeupMailbox);

  EXPECT_EQ(plan.ap_entry_rip, ApWakeupLayout::kParkCode);
  EXPECT_EQ(count_type(madt_entries(plan_madt(plan)), kMpWakeupType), 1u);
}

TEST(PlanBootApStartup, LinuxMayKeepInitSipi) {
  const auto bz = make_bzimage();

  const auto plan = plan_of(LinuxImage{bz, {}}, ApStartup::kInitSipi);

  EXPECT_EQ(plan.ap_entry_rip, 0u);
  EXPECT_EQ(write_at(plan, kApWakeupBase), nullptr);
}

TEST(PlanBootApStartup, NoTwoWritesOverlap) {
  const auto bz = make_bzimage();
  const std::vector<std::uint8_t> initrd(0x5000, 0x11);
  auto writes = plan_of(LinuxImage{bz, initrd}).writes;

  std::ranges::sort(writes, {}, &GuestWrite::gpa);

  ASSERT_GE(writes.size(), 8u);
  const auto overlapping = std::ranges::adjacent_find(
      writes,
      [](const GuestWrite& a, const GuestWrite& b) { return a.gpa + a.bytes.size() > b.gpa; });
  EXPECT_EQ(overlapping, writes.end())
      << "write at " << std::hex << overlapping->gpa << " overlaps the next";
}

}  // namespace
}  // namespace heca::firmware

#include "firmware/e820.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace heca::firmware {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

TEST(E820, SmallRamHasConventionalReservedAndHighRam) {
  const auto ram = pc_ram_layout(2 * kGiB);

  const auto e820 = build_e820(ram);

  const std::vector<E820Entry> expected = {
      {0, kEbdaStart, E820Type::kRam},
      {kEbdaStart, kBiosAreaEnd - kEbdaStart, E820Type::kReserved},
      {kBiosAreaEnd, 2 * kGiB - kBiosAreaEnd, E820Type::kRam},
  };
  EXPECT_EQ(e820, expected);
}

TEST(E820, ReservedAreaCoversAcpiTables) {
  const auto e820 = build_e820(pc_ram_layout(kGiB));

  const E820Entry& reserved = e820.at(1);
  EXPECT_EQ(reserved.type, E820Type::kReserved);
  EXPECT_LE(reserved.addr, kAcpiBase);
  EXPECT_GE(reserved.addr + reserved.size, kAcpiBase + kAcpiMax);
}

TEST(E820, LargeRamIsSplitByTheMmioHole) {
  const auto ram = pc_ram_layout(6 * kGiB);

  const auto e820 = build_e820(ram);

  const std::vector<E820Entry> expected = {
      {0, kEbdaStart, E820Type::kRam},
      {kEbdaStart, kBiosAreaEnd - kEbdaStart, E820Type::kReserved},
      {kBiosAreaEnd, kMmioHoleStart - kBiosAreaEnd, E820Type::kRam},
      {kMmioHoleEnd, 6 * kGiB - kMmioHoleStart, E820Type::kRam},
  };
  EXPECT_EQ(e820, expected);
}

TEST(E820, NoEntryOverlapsTheMmioHole) {
  const auto e820 = build_e820(pc_ram_layout(6 * kGiB));

  const bool overlaps = std::ranges::any_of(e820, [](const E820Entry& e) {
    return e.addr < kMmioHoleEnd && e.addr + e.size > kMmioHoleStart;
  });
  EXPECT_FALSE(overlaps);
}

}  // namespace
}  // namespace heca::firmware

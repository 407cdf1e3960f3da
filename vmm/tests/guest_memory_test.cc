#include "vmm/guest_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace heca::vmm {
namespace {

constexpr std::uint64_t kGiB = 1ULL << 30;

TEST(RamOffset, LowRangeMapsOneToOne) {
  const auto ram = firmware::pc_ram_layout(64ULL << 20);

  EXPECT_EQ(ram_offset(ram, 0x10'0000, 4096).value(), 0x10'0000u);
}

TEST(RamOffset, RangeAbove4GiBFollowsLowRangeInTheMemfd) {
  const auto ram = firmware::pc_ram_layout(4 * kGiB);

  EXPECT_EQ(ram_offset(ram, firmware::kMmioHoleEnd + 8, 8).value(), 3 * kGiB + 8);
}

TEST(RamOffset, AccessCrossingTheEndIsRejected) {
  const auto ram = firmware::pc_ram_layout(1ULL << 20);

  EXPECT_FALSE(ram_offset(ram, (1ULL << 20) - 4, 8).has_value());
}

TEST(RamOffset, AccessInTheMmioHoleIsRejected) {
  const auto ram = firmware::pc_ram_layout(4 * kGiB);

  EXPECT_FALSE(ram_offset(ram, firmware::kLapicAddr, 4).has_value());
}

TEST(GuestMemory, RejectsUnalignedSize) {
  EXPECT_FALSE(GuestMemory::create(4097).has_value());
}

TEST(GuestMemory, RejectsZeroSize) {
  EXPECT_FALSE(GuestMemory::create(0).has_value());
}

TEST(GuestMemory, WriteIsVisibleThroughRead) {
  auto memory = GuestMemory::create(2ULL << 20);
  ASSERT_TRUE(memory.has_value());
  const std::array<std::uint8_t, 3> bytes = {1, 2, 3};

  ASSERT_TRUE(memory->write(0x1000, bytes).has_value());

  const auto read = memory->read(0x1000, 3);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(std::vector<std::uint8_t>(read->begin(), read->end()),
            std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

TEST(GuestMemory, WritePastTheEndFails) {
  auto memory = GuestMemory::create(1ULL << 20);
  ASSERT_TRUE(memory.has_value());
  const std::array<std::uint8_t, 2> bytes = {1, 2};

  EXPECT_FALSE(memory->write((1ULL << 20) - 1, bytes).has_value());
}

}  // namespace
}  // namespace heca::vmm

#include "io-aggregation/io_bus.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace heca::io {
namespace {

// Records the last access; reads return `fill`.
class RecordingDevice final : public IoDevice {
 public:
  explicit RecordingDevice(std::uint8_t fill = 0) : fill_(fill) {}
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    last_offset = offset;
    for (std::uint8_t& b : data) b = fill_;
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    last_offset = offset;
    last_data.assign(data.begin(), data.end());
  }
  std::uint64_t last_offset = ~std::uint64_t{0};
  std::vector<std::uint8_t> last_data;

 private:
  std::uint8_t fill_;
};

// Stateless, so any number of threads may call it.
class ConstantDevice final : public IoDevice {
 public:
  void read(std::uint64_t, std::span<std::uint8_t> data) override {
    for (std::uint8_t& b : data) b = 0x11;
  }
  void write(std::uint64_t, std::span<const std::uint8_t>) override {}
};

TEST(IoBus, AddRejectsOverlapNamingBothRanges) {
  IoBus bus;
  ASSERT_TRUE(bus.add(AddressSpace::kPio, 0x3f8, 8, std::make_shared<RecordingDevice>()));

  const Status s = bus.add(AddressSpace::kPio, 0x3fc, 8, std::make_shared<RecordingDevice>());

  ASSERT_FALSE(s);
  EXPECT_NE(s.error().what.find("[0x3fc, 0x403]"), std::string::npos) << s.error().what;
  EXPECT_NE(s.error().what.find("[0x3f8, 0x3ff]"), std::string::npos) << s.error().what;
}

TEST(IoBus, AddRejectsRangeContainingAnother) {
  IoBus bus;
  ASSERT_TRUE(bus.add(AddressSpace::kMmio, 0x1000, 0x10, std::make_shared<RecordingDevice>()));

  EXPECT_FALSE(bus.add(AddressSpace::kMmio, 0x0, 0x2000, std::make_shared<RecordingDevice>()));
}

TEST(IoBus, AddAcceptsAdjacentRanges) {
  IoBus bus;
  ASSERT_TRUE(bus.add(AddressSpace::kPio, 0x500, 1, std::make_shared<RecordingDevice>()));

  EXPECT_TRUE(bus.add(AddressSpace::kPio, 0x501, 2, std::make_shared<RecordingDevice>()));
  EXPECT_TRUE(bus.add(AddressSpace::kPio, 0x4ff, 1, std::make_shared<RecordingDevice>()));
}

TEST(IoBus, AddRejectsZeroLength) {
  IoBus bus;

  EXPECT_FALSE(bus.add(AddressSpace::kMmio, 0x1000, 0, std::make_shared<RecordingDevice>()));
}

TEST(IoBus, AddRejectsWrappingRange) {
  IoBus bus;

  EXPECT_FALSE(
      bus.add(AddressSpace::kMmio, ~std::uint64_t{0} - 3, 8, std::make_shared<RecordingDevice>()));
}

TEST(IoBus, AddAcceptsRangeEndingAtTopOfAddressSpace) {
  IoBus bus;

  EXPECT_TRUE(
      bus.add(AddressSpace::kMmio, ~std::uint64_t{0} - 7, 8, std::make_shared<RecordingDevice>()));
}

TEST(IoBus, AddRejectsPioRangeBeyondPortSpace) {
  IoBus bus;

  EXPECT_FALSE(bus.add(AddressSpace::kPio, 0xfffe, 4, std::make_shared<RecordingDevice>()));
}

TEST(IoBus, WriteReachesClaimingDeviceWithRelativeOffset) {
  IoBus bus;
  auto low = std::make_shared<RecordingDevice>();
  auto high = std::make_shared<RecordingDevice>();
  ASSERT_TRUE(bus.add(AddressSpace::kMmio, 0xfee00000, 0x1000, low));
  ASSERT_TRUE(bus.add(AddressSpace::kMmio, 0xfec00000, 0x100, high));
  const std::array<std::uint8_t, 4> value{1, 2, 3, 4};

  ASSERT_TRUE(bus.write(AddressSpace::kMmio, 0xfee00300, value));

  EXPECT_EQ(low->last_offset, 0x300u);
  EXPECT_EQ(low->last_data, std::vector<std::uint8_t>(value.begin(), value.end()));
  EXPECT_TRUE(high->last_data.empty());
}

TEST(IoBus, ReadReachesClaimingDeviceWithRelativeOffset) {
  IoBus bus;
  auto dev = std::make_shared<RecordingDevice>(0x5a);
  ASSERT_TRUE(bus.add(AddressSpace::kPio, 0x3f8, 8, dev));
  std::array<std::uint8_t, 1> data{};

  ASSERT_TRUE(bus.read(AddressSpace::kPio, 0x3ff, data));

  EXPECT_EQ(dev->last_offset, 7u);
  EXPECT_EQ(data[0], 0x5a);
}

TEST(IoBus, UnclaimedAccessReturnsFalseAndLeavesDataUntouched) {
  IoBus bus;
  ASSERT_TRUE(bus.add(AddressSpace::kPio, 0x3f8, 8, std::make_shared<RecordingDevice>(0)));
  std::array<std::uint8_t, 2> data{0xab, 0xcd};

  EXPECT_FALSE(bus.read(AddressSpace::kPio, 0x400, data));
  EXPECT_FALSE(bus.read(AddressSpace::kPio, 0x3f7, data));

  EXPECT_EQ(data[0], 0xab);
  EXPECT_EQ(data[1], 0xcd);
}

TEST(IoBus, AddressSpacesAreSeparate) {
  IoBus bus;
  ASSERT_TRUE(bus.add(AddressSpace::kPio, 0x3f8, 8, std::make_shared<RecordingDevice>()));
  const std::array<std::uint8_t, 1> value{'x'};

  EXPECT_FALSE(bus.write(AddressSpace::kMmio, 0x3f8, value));
}

TEST(IoBus, CountsClaimedAndUnclaimedAccessesPerSpace) {
  IoBus bus;
  ASSERT_TRUE(bus.add(AddressSpace::kPio, 0x3f8, 8, std::make_shared<RecordingDevice>()));
  std::array<std::uint8_t, 1> data{};

  (void)bus.write(AddressSpace::kPio, 0x3f8, data);
  (void)bus.read(AddressSpace::kPio, 0x3fd, data);
  (void)bus.read(AddressSpace::kPio, 0x80, data);
  (void)bus.read(AddressSpace::kMmio, 0xd0000000, data);

  const IoBusStats stats = bus.stats();
  EXPECT_EQ(stats.pio.claimed, 2u);
  EXPECT_EQ(stats.pio.unclaimed, 1u);
  EXPECT_EQ(stats.mmio.claimed, 0u);
  EXPECT_EQ(stats.mmio.unclaimed, 1u);
}

TEST(IoBus, ConcurrentDispatchCountsEveryAccess) {
  IoBus bus;
  ASSERT_TRUE(bus.add(AddressSpace::kMmio, 0x1000, 0x1000, std::make_shared<ConstantDevice>()));
  const IoBus& shared = bus;
  constexpr int kPerThread = 10000;
  auto hammer = [&shared] {
    std::array<std::uint8_t, 4> data{};
    for (int i = 0; i < kPerThread; ++i) (void)shared.read(AddressSpace::kMmio, 0x1800, data);
  };

  std::thread a(hammer);
  std::thread b(hammer);
  a.join();
  b.join();

  EXPECT_EQ(bus.stats().mmio.claimed, 2u * kPerThread);
}

TEST(IoBusDeathTest, AddAfterDispatchHasBegunAborts) {
  IoBus bus;
  std::array<std::uint8_t, 1> data{};
  (void)bus.read(AddressSpace::kPio, 0x80, data);

  EXPECT_DEATH((void)bus.add(AddressSpace::kPio, 0x3f8, 8, std::make_shared<RecordingDevice>()),
               "CHECK failed");
}

}  // namespace
}  // namespace heca::io

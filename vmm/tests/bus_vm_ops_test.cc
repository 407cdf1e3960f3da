#include "vmm/bus_vm_ops.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>

namespace heca::vmm {
namespace {

// Reads return 0x42; remembers the last byte written.
class ByteDevice final : public io::IoDevice {
 public:
  void read(std::uint64_t /*offset*/, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), std::uint8_t{0x42});
  }
  void write(std::uint64_t /*offset*/, std::span<const std::uint8_t> data) override {
    last_ = data[0];
  }
  std::uint8_t last_ = 0;
};

TEST(BusVmOps, ClaimedPioReadReachesTheDevice) {
  io::IoBus bus;
  ASSERT_TRUE(bus.add(io::AddressSpace::kPio, 0x80, 1, std::make_shared<ByteDevice>()));
  BusVmOps ops(bus);
  std::array<std::uint8_t, 1> data{};

  ops.pio_read(0x80, data);

  EXPECT_EQ(data[0], 0x42);
  EXPECT_EQ(ops.unclaimed().pio_reads, 0u);
}

TEST(BusVmOps, UnclaimedReadFloatsToAllOnesAndIsCounted) {
  io::IoBus bus;
  BusVmOps ops(bus);
  std::array<std::uint8_t, 4> data{};

  ops.mmio_read(0xFED0'0000, data);

  EXPECT_EQ(data, (std::array<std::uint8_t, 4>{0xFF, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(ops.unclaimed().mmio_reads, 1u);
}

TEST(BusVmOps, UnclaimedWriteIsDroppedAndCounted) {
  io::IoBus bus;
  BusVmOps ops(bus);
  const std::array<std::uint8_t, 1> data = {7};

  ops.pio_write(0x70, data);

  EXPECT_EQ(ops.unclaimed().pio_writes, 1u);
}

}  // namespace
}  // namespace heca::vmm

#include "io-aggregation/debug_exit.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "io-aggregation/io_bus.h"
#include "kernel/base/check.h"

namespace heca::io {
namespace {

namespace abi = firmware::abi;

// The device on a bus, as the VMM registers it, with recorded callbacks.
struct DebugHarness {
  std::vector<std::uint32_t> exits;
  std::vector<std::uint32_t> events;
  IoBus bus;

  DebugHarness() {
    auto dev =
        std::make_shared<DebugExitDevice>([this](std::uint32_t code) { exits.push_back(code); },
                                          [this](std::uint32_t event) { events.push_back(event); });
    HECA_CHECK(
        bus.add(AddressSpace::kPio, DebugExitDevice::kBasePort, DebugExitDevice::kPortCount, dev));
  }
  bool out32(std::uint16_t port, std::uint32_t value) {
    const std::array<std::uint8_t, 4> data{
        static_cast<std::uint8_t>(value), static_cast<std::uint8_t>(value >> 8),
        static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 24)};
    return bus.write(AddressSpace::kPio, port, data);
  }
};

TEST(DebugExitDevice, FourByteWriteToExitPortReportsCode) {
  DebugHarness h;

  ASSERT_TRUE(h.out32(abi::kDebugExitPort, 0x12345678));

  EXPECT_EQ(h.exits, std::vector<std::uint32_t>{0x12345678});
  EXPECT_TRUE(h.events.empty());
}

TEST(DebugExitDevice, WriteToEventPortReportsEvent) {
  DebugHarness h;

  ASSERT_TRUE(h.out32(abi::kDebugEventPort, abi::kEventAllCheckedIn));
  ASSERT_TRUE(h.out32(abi::kDebugEventPort, abi::kEventWorkloadsDone));

  EXPECT_EQ(h.events,
            (std::vector<std::uint32_t>{abi::kEventAllCheckedIn, abi::kEventWorkloadsDone}));
  EXPECT_TRUE(h.exits.empty());
}

TEST(DebugExitDevice, ByteWriteIsZeroExtended) {
  DebugHarness h;
  const std::array<std::uint8_t, 1> data{0x03};

  ASSERT_TRUE(h.bus.write(AddressSpace::kPio, abi::kDebugExitPort, data));

  EXPECT_EQ(h.exits, std::vector<std::uint32_t>{3});
}

TEST(DebugExitDevice, OddWidthWriteIsIgnored) {
  DebugHarness h;
  const std::array<std::uint8_t, 3> data{1, 2, 3};

  ASSERT_TRUE(h.bus.write(AddressSpace::kPio, abi::kDebugExitPort, data));

  EXPECT_TRUE(h.exits.empty());
}

TEST(DebugExitDevice, ReadReturnsZeros) {
  DebugHarness h;
  std::array<std::uint8_t, 4> data{0xff, 0xff, 0xff, 0xff};

  ASSERT_TRUE(h.bus.read(AddressSpace::kPio, abi::kDebugEventPort, data));

  EXPECT_EQ(data, (std::array<std::uint8_t, 4>{}));
}

TEST(DebugExitDevice, PortNextToTheAbiPortsIsUnclaimed) {
  DebugHarness h;

  EXPECT_FALSE(h.out32(abi::kDebugEventPort + 1, 0));
}

}  // namespace
}  // namespace heca::io

#include "io-aggregation/reset_control.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>

#include "io-aggregation/io_bus.h"
#include "io-aggregation/tests/pio.h"
#include "kernel/base/check.h"

namespace heca::io {
namespace {

// Both reset ports on one bus, counting reset requests.
struct ResetHarness {
  int resets = 0;
  IoBus bus;

  ResetHarness() {
    auto cf9 = std::make_shared<ResetControlRegister>([this] { ++resets; });
    auto kbd = std::make_shared<I8042ResetPort>([this] { ++resets; });
    HECA_CHECK(bus.add(AddressSpace::kPio, ResetControlRegister::kPort,
                       ResetControlRegister::kPortCount, cf9));
    HECA_CHECK(bus.add(AddressSpace::kPio, I8042ResetPort::kPort, I8042ResetPort::kPortCount, kbd));
  }
  void out(std::uint16_t port, std::uint8_t value) { testing::pio_out8(bus, port, value); }
  std::uint8_t in(std::uint16_t port) { return testing::pio_in8(bus, port); }
};

TEST(ResetControlRegister, WriteWithResetCpuRequestsReset) {
  ResetHarness h;

  h.out(ResetControlRegister::kPort, 0x06);

  EXPECT_EQ(h.resets, 1);
}

TEST(ResetControlRegister, SystemResetAloneOnlyArmsAndReadsBack) {
  ResetHarness h;

  h.out(ResetControlRegister::kPort, ResetControlRegister::kSystemReset);

  EXPECT_EQ(h.resets, 0);
  EXPECT_EQ(h.in(ResetControlRegister::kPort), ResetControlRegister::kSystemReset);
}

TEST(ResetControlRegister, ArmThenResetRequestsResetOnce) {
  ResetHarness h;
  h.out(ResetControlRegister::kPort, 0x02);

  h.out(ResetControlRegister::kPort, 0x06);

  EXPECT_EQ(h.resets, 1);
}

TEST(ResetControlRegister, ResetCpuBitDoesNotReadBack) {
  ResetHarness h;

  h.out(ResetControlRegister::kPort, 0x0E);

  EXPECT_EQ(h.in(ResetControlRegister::kPort), 0x0A);
}

TEST(I8042ResetPort, StatusSaysNoDataAndInputBufferEmpty) {
  ResetHarness h;

  const std::uint8_t status = h.in(I8042ResetPort::kPort);

  EXPECT_EQ(status & 0x01, 0);  // output buffer empty: nothing at 0x60
  EXPECT_EQ(status & 0x02, 0);  // input buffer empty: ready for a command
  EXPECT_EQ(status, I8042ResetPort::kStatus);
}

TEST(I8042ResetPort, PulseResetCommandRequestsReset) {
  ResetHarness h;

  h.out(I8042ResetPort::kPort, I8042ResetPort::kPulseResetCommand);

  EXPECT_EQ(h.resets, 1);
}

TEST(I8042ResetPort, PulseWithoutResetLineDoesNothing) {
  ResetHarness h;

  h.out(I8042ResetPort::kPort, 0xFF);

  EXPECT_EQ(h.resets, 0);
}

TEST(I8042ResetPort, OtherCommandsAreIgnored) {
  ResetHarness h;

  h.out(I8042ResetPort::kPort, 0xAA);  // controller self-test
  h.out(I8042ResetPort::kPort, 0x20);  // read command byte

  EXPECT_EQ(h.resets, 0);
  EXPECT_EQ(h.in(I8042ResetPort::kPort), I8042ResetPort::kStatus);
}

}  // namespace
}  // namespace heca::io

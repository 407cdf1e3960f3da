#include "io-aggregation/uart_8250.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace heca::io {
namespace {

constexpr std::uint64_t kData = 0;  // RBR / THR, DLL with DLAB
constexpr std::uint64_t kIer = 1;   // DLM with DLAB
constexpr std::uint64_t kIir = 2;   // FCR on write
constexpr std::uint64_t kLcr = 3;
constexpr std::uint64_t kMcr = 4;
constexpr std::uint64_t kLsr = 5;
constexpr std::uint64_t kMsr = 6;
constexpr std::uint64_t kScr = 7;

// A UART wired to a string sink and a recorded IRQ line.
struct UartHarness {
  std::string output;
  std::vector<bool> irq_levels;
  Uart8250 uart{[this](std::string_view s) { output.append(s); },
                [this](bool level) { irq_levels.push_back(level); }};

  std::uint8_t in(std::uint64_t reg) {
    std::array<std::uint8_t, 1> data{};
    uart.read(reg, data);
    return data[0];
  }
  void out(std::uint64_t reg, std::uint8_t value) {
    const std::array<std::uint8_t, 1> data{value};
    uart.write(reg, data);
  }
};

TEST(Uart8250, ThrWriteSendsByteToSink) {
  UartHarness h;

  h.out(kData, 'h');
  h.out(kData, 'i');

  EXPECT_EQ(h.output, "hi");
}

TEST(Uart8250, DivisorLatchWriteDoesNotTransmit) {
  UartHarness h;
  h.out(kLcr, 0x83);

  h.out(kData, 0x01);
  h.out(kIer, 0x02);

  EXPECT_EQ(h.output, "");
  EXPECT_EQ(h.in(kData), 0x01);
  EXPECT_EQ(h.in(kIer), 0x02);
}

TEST(Uart8250, ClearingDlabRestoresIer) {
  UartHarness h;
  h.out(kIer, 0x05);
  h.out(kLcr, 0x80);
  h.out(kIer, 0x00);  // DLM

  h.out(kLcr, 0x03);

  EXPECT_EQ(h.in(kIer), 0x05);
}

TEST(Uart8250, LsrReportsTransmitterEmptyWithoutData) {
  UartHarness h;

  EXPECT_EQ(h.in(kLsr), 0x60);
}

TEST(Uart8250, LsrReportsDataReadyWhenInputQueued) {
  UartHarness h;

  h.uart.push_input("a");

  EXPECT_EQ(h.in(kLsr), 0x61);
}

TEST(Uart8250, RbrReturnsInputInOrderThenClearsDataReady) {
  UartHarness h;
  h.uart.push_input("ok");

  const std::uint8_t first = h.in(kData);
  const std::uint8_t second = h.in(kData);

  EXPECT_EQ(first, 'o');
  EXPECT_EQ(second, 'k');
  EXPECT_EQ(h.in(kLsr), 0x60);
}

TEST(Uart8250, IirReportsNoInterruptAfterReset) {
  UartHarness h;

  EXPECT_EQ(h.in(kIir), 0x01);
}

TEST(Uart8250, IirReportsFifoEnabledBits) {
  UartHarness h;

  h.out(kIir, 0x01);  // FCR: enable FIFOs

  EXPECT_EQ(h.in(kIir), 0xc1);
}

TEST(Uart8250, EnablingThreInterruptRaisesIrq) {
  UartHarness h;

  h.out(kIer, 0x02);

  EXPECT_EQ(h.irq_levels, std::vector<bool>{true});
  EXPECT_EQ(h.in(kIir), 0x02);
}

TEST(Uart8250, ReadingIirAcknowledgesThreAndLowersIrq) {
  UartHarness h;
  h.out(kIer, 0x02);

  (void)h.in(kIir);

  EXPECT_EQ(h.irq_levels, (std::vector<bool>{true, false}));
  EXPECT_EQ(h.in(kIir), 0x01);
}

TEST(Uart8250, ThrWriteRaisesThreAgain) {
  UartHarness h;
  h.out(kIer, 0x02);
  (void)h.in(kIir);

  h.out(kData, 'x');

  EXPECT_EQ(h.irq_levels, (std::vector<bool>{true, false, true}));
}

TEST(Uart8250, DisablingThreInterruptLowersIrq) {
  UartHarness h;
  h.out(kIer, 0x02);

  h.out(kIer, 0x00);

  EXPECT_EQ(h.irq_levels, (std::vector<bool>{true, false}));
}

TEST(Uart8250, ReenablingThreInterruptRaisesItAgain) {
  UartHarness h;
  h.out(kIer, 0x02);
  (void)h.in(kIir);
  h.out(kIer, 0x00);

  h.out(kIer, 0x02);

  EXPECT_EQ(h.in(kIir), 0x02);
}

TEST(Uart8250, RxInterruptFollowsQueuedInput) {
  UartHarness h;
  h.out(kIer, 0x01);

  h.uart.push_input("a");
  h.uart.push_input("b");
  (void)h.in(kData);
  (void)h.in(kData);

  EXPECT_EQ(h.irq_levels, (std::vector<bool>{true, false}));
}

TEST(Uart8250, RxDataOutranksThre) {
  UartHarness h;
  h.out(kIer, 0x03);
  h.uart.push_input("a");

  const std::uint8_t with_data = h.in(kIir);
  (void)h.in(kData);
  const std::uint8_t without_data = h.in(kIir);

  EXPECT_EQ(with_data, 0x04);
  EXPECT_EQ(without_data, 0x02);
}

TEST(Uart8250, OverrunRaisesLineStatusAboveRxData) {
  UartHarness h;
  h.out(kIer, 0x07);
  h.uart.push_input(std::string(Uart8250::kRxCapacity + 1, 'z'));

  const std::uint8_t iir = h.in(kIir);
  const std::uint8_t lsr = h.in(kLsr);

  EXPECT_EQ(iir, 0x06);
  EXPECT_EQ(lsr, 0x63);
  EXPECT_EQ(h.in(kIir), 0x04);
}

TEST(Uart8250, FcrClearsReceiveQueue) {
  UartHarness h;
  h.uart.push_input("abc");

  h.out(kIir, 0x03);  // FCR: enable + clear RX

  EXPECT_EQ(h.in(kLsr), 0x60);
}

TEST(Uart8250, MsrReportsConnectedLineOutsideLoopback) {
  UartHarness h;

  EXPECT_EQ(h.in(kMsr), 0xb0);
}

TEST(Uart8250, LoopbackMirrorsMcrInMsr) {
  UartHarness h;

  h.out(kMcr, 0x1a);  // LOOP | OUT2 | RTS, the Linux probe

  EXPECT_EQ(h.in(kMsr)&0xf0, 0x90);
}

TEST(Uart8250, LoopbackTurnsTransmitIntoInput) {
  UartHarness h;
  h.out(kMcr, 0x10);

  h.out(kData, 'z');

  EXPECT_EQ(h.output, "");
  EXPECT_EQ(h.in(kData), 'z');
}

TEST(Uart8250, ScratchRegisterHoldsValue) {
  UartHarness h;

  h.out(kScr, 0xa5);

  EXPECT_EQ(h.in(kScr), 0xa5);
}

}  // namespace
}  // namespace heca::io

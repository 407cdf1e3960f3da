#include "io-aggregation/acpi_pm.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "io-aggregation/io_bus.h"
#include "kernel/base/check.h"

namespace heca::io {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kBase = 0x600;
constexpr std::uint8_t kS5 = 5;
constexpr std::uint16_t kStatusPort = kBase;
constexpr std::uint16_t kEnablePort = kBase + 2;
constexpr std::uint16_t kControlPort = kBase + 4;
constexpr std::uint16_t kTimerPort = kBase + 8;

std::uint16_t sleep_request(unsigned sleep_type) {
  return static_cast<std::uint16_t>(AcpiPmDevice::kSleepEnable |
                                    (sleep_type << AcpiPmDevice::kSleepTypeShift));
}

// The PM block on a bus at 0x600 with a hand-driven clock and a counted power-off handler.
struct PmHarness {
  std::chrono::nanoseconds now{1'000'000'000'000};  // arbitrary, non-zero start
  int power_offs = 0;
  IoBus bus;

  PmHarness() {
    auto dev = std::make_shared<AcpiPmDevice>(
        kS5, [this] { ++power_offs; }, [this] { return now; });
    HECA_CHECK(bus.add(AddressSpace::kPio, kBase, AcpiPmDevice::kPortCount, dev));
  }
  std::uint32_t in(std::uint16_t port, std::size_t width) {
    std::array<std::uint8_t, 4> data{0xAA, 0xAA, 0xAA, 0xAA};
    HECA_CHECK(bus.read(AddressSpace::kPio, port, std::span(data).first(width)));
    std::uint32_t value = 0;
    for (std::size_t i = width; i-- > 0;) value = (value << 8) | data[i];
    return value;
  }
  void out(std::uint16_t port, std::uint32_t value, std::size_t width) {
    const std::array<std::uint8_t, 4> data{
        static_cast<std::uint8_t>(value), static_cast<std::uint8_t>(value >> 8),
        static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 24)};
    HECA_CHECK(bus.write(AddressSpace::kPio, port, std::span(data).first(width)));
  }
};

TEST(AcpiPmDevice, ControlReadsSciEnabledAfterReset) {
  PmHarness h;

  EXPECT_EQ(h.in(kControlPort, 2), AcpiPmDevice::kSciEnable);
}

TEST(AcpiPmDevice, ControlKeepsSciEnabledWhenGuestClearsIt) {
  PmHarness h;

  h.out(kControlPort, 0, 2);

  EXPECT_EQ(h.in(kControlPort, 2), AcpiPmDevice::kSciEnable);
}

TEST(AcpiPmDevice, ControlKeepsSleepTypeButNotSleepEnable) {
  PmHarness h;

  h.out(kControlPort, sleep_request(3), 2);

  EXPECT_EQ(h.in(kControlPort, 2),
            (3u << AcpiPmDevice::kSleepTypeShift) | AcpiPmDevice::kSciEnable);
  EXPECT_EQ(h.power_offs, 0);
}

TEST(AcpiPmDevice, S5WithSleepEnablePowersOffOnce) {
  PmHarness h;

  h.out(kControlPort, sleep_request(kS5), 2);

  EXPECT_EQ(h.power_offs, 1);
}

TEST(AcpiPmDevice, S5WithoutSleepEnableDoesNotPowerOff) {
  PmHarness h;

  h.out(kControlPort, kS5 << AcpiPmDevice::kSleepTypeShift, 2);

  EXPECT_EQ(h.power_offs, 0);
}

TEST(AcpiPmDevice, SleepEnableWithOtherSleepTypeDoesNotPowerOff) {
  PmHarness h;

  h.out(kControlPort, sleep_request(1), 2);

  EXPECT_EQ(h.power_offs, 0);
}

TEST(AcpiPmDevice, SleepTypeThenSleepEnableInSeparateByteWritesPowersOff) {
  PmHarness h;
  h.out(kControlPort + 1, kS5 << (AcpiPmDevice::kSleepTypeShift - 8), 1);

  h.out(kControlPort + 1, sleep_request(kS5) >> 8, 1);

  EXPECT_EQ(h.power_offs, 1);
}

TEST(AcpiPmDevice, LowControlByteWriteDoesNotPowerOffWithStoredS5) {
  PmHarness h;
  h.out(kControlPort, kS5 << AcpiPmDevice::kSleepTypeShift, 2);

  h.out(kControlPort, 0x01, 1);

  EXPECT_EQ(h.power_offs, 0);
}

TEST(AcpiPmDevice, EnableKeepsDefinedBitsOnly) {
  PmHarness h;

  h.out(kEnablePort, 0xFFFF, 2);

  EXPECT_EQ(h.in(kEnablePort, 2), AcpiPmDevice::kEnableMask);
}

TEST(AcpiPmDevice, StatusAndEnableReadTogetherAsOneDword) {
  PmHarness h;
  h.out(kEnablePort, 0x0100, 2);

  EXPECT_EQ(h.in(kStatusPort, 4), 0x0100'0000u);
}

TEST(AcpiPmDevice, TimerStartsAtZeroAndCountsAt3579545Hz) {
  PmHarness h;
  const std::uint32_t start = h.in(kTimerPort, 4);

  h.now += 1s;

  EXPECT_EQ(start, 0u);
  EXPECT_EQ(h.in(kTimerPort, 4), AcpiPmDevice::kTimerHz);
}

TEST(AcpiPmDevice, TimerCountsFractionsOfASecond) {
  PmHarness h;

  h.now += 1ms;

  EXPECT_EQ(h.in(kTimerPort, 4), 3579u);  // 3579.545 ticks, truncated
}

TEST(AcpiPmDevice, TimerIsThirtyTwoBitsWide) {
  PmHarness h;

  h.now += 1200s;  // 4'295'454'000 ticks: just past 2^32

  EXPECT_EQ(h.in(kTimerPort, 4), 4'295'454'000u - (1ull << 32));
}

TEST(AcpiPmDevice, TimerReadsAsBytesAndWords) {
  PmHarness h;
  h.now += 5s;  // 17'897'725 = 0x0111'18FD

  EXPECT_EQ(h.in(kTimerPort, 1), 0xFDu);
  EXPECT_EQ(h.in(kTimerPort + 1, 1), 0x18u);
  EXPECT_EQ(h.in(kTimerPort + 2, 2), 0x0111u);
}

TEST(AcpiPmDevice, TimerIgnoresWrites) {
  PmHarness h;
  h.now += 1s;

  h.out(kTimerPort, 0, 4);

  EXPECT_EQ(h.in(kTimerPort, 4), AcpiPmDevice::kTimerHz);
}

TEST(AcpiPmDevice, TimerStatusSetsWhenBit31FlipsAndClearsOnWriteOne) {
  PmHarness h;
  h.now += 600s;  // 2'147'727'000 ticks: bit 31 has just flipped
  const std::uint32_t before_clear = h.in(kStatusPort, 2);

  h.out(kStatusPort, AcpiPmDevice::kTmrStatus, 2);

  EXPECT_EQ(before_clear, AcpiPmDevice::kTmrStatus);
  EXPECT_EQ(h.in(kStatusPort, 2), 0u);
}

TEST(AcpiPmDevice, TimerStatusStaysClearBeforeBit31Flips) {
  PmHarness h;

  h.now += 599s;

  EXPECT_EQ(h.in(kStatusPort, 2), 0u);
}

TEST(AcpiPmDevice, RealTimerIsMonotonicAndRunsAtTheRightRate) {
  AcpiPmDevice dev(kS5, [] {});
  const auto wall_start = std::chrono::steady_clock::now();
  const std::uint64_t first = dev.timer_ticks();

  std::this_thread::sleep_for(200ms);
  const std::uint64_t second = dev.timer_ticks();
  const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - wall_start;

  const double expected = wall.count() * static_cast<double>(AcpiPmDevice::kTimerHz);
  EXPECT_GT(second, first);
  // The tick count lies within the wall time measured around both reads (2% slack for rounding).
  EXPECT_LE(static_cast<double>(second - first), expected * 1.02);
  EXPECT_GE(static_cast<double>(second - first), 0.2 * AcpiPmDevice::kTimerHz * 0.98);
}

TEST(AcpiPmDevice, RealTimerNeverGoesBackwardsAcrossThreads) {
  AcpiPmDevice dev(kS5, [] {});
  std::atomic<bool> backwards{false};
  auto reader = [&dev, &backwards] {
    std::uint32_t last = 0;
    std::array<std::uint8_t, 4> data{};
    for (int i = 0; i < 20000; ++i) {
      dev.read(AcpiPmDevice::kPmTimerOffset, data);
      const std::uint32_t v =
          static_cast<std::uint32_t>(data[0] | (data[1] << 8) | (data[2] << 16)) |
          (static_cast<std::uint32_t>(data[3]) << 24);
      if (v < last) backwards = true;
      last = v;
    }
  };

  std::thread a(reader);
  std::thread b(reader);
  a.join();
  b.join();

  EXPECT_FALSE(backwards.load());
}

}  // namespace
}  // namespace heca::io

#include "io-aggregation/cmos_rtc.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>

#include "io-aggregation/io_bus.h"
#include "io-aggregation/tests/pio.h"
#include "kernel/base/check.h"

namespace heca::io {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

constexpr std::uint16_t kIndexPort = CmosRtc::kBasePort;
constexpr std::uint16_t kDataPort = CmosRtc::kBasePort + 1;

// Sunday 2026-11-29 23:45:07 UTC.
sys_time<nanoseconds> sunday_evening() {
  return sys_days{year{2026} / 11 / 29} + 23h + 45min + 7s + 250ms;
}

// The RTC on a bus at 0x70 with a hand-set wall clock.
struct RtcHarness {
  sys_time<nanoseconds> now = sunday_evening();
  IoBus bus;

  RtcHarness() {
    auto dev =
        std::make_shared<CmosRtc>([this] { return time_point_cast<system_clock::duration>(now); });
    HECA_CHECK(bus.add(AddressSpace::kPio, CmosRtc::kBasePort, CmosRtc::kPortCount, dev));
  }
  void out(std::uint16_t port, std::uint8_t value) { testing::pio_out8(bus, port, value); }
  std::uint8_t in(std::uint16_t port) { return testing::pio_in8(bus, port); }
  std::uint8_t reg(std::uint8_t index) {
    out(kIndexPort, index);
    return in(kDataPort);
  }
  void set_reg(std::uint8_t index, std::uint8_t value) {
    out(kIndexPort, index);
    out(kDataPort, value);
  }
};

TEST(CmosRtc, DefaultsToBcdAnd24Hours) {
  RtcHarness h;

  EXPECT_EQ(h.reg(CmosRtc::kRegB), CmosRtc::kRegB24Hour);
}

TEST(CmosRtc, BcdTimeAndDate) {
  RtcHarness h;

  EXPECT_EQ(h.reg(CmosRtc::kSeconds), 0x07);
  EXPECT_EQ(h.reg(CmosRtc::kMinutes), 0x45);
  EXPECT_EQ(h.reg(CmosRtc::kHours), 0x23);
  EXPECT_EQ(h.reg(CmosRtc::kDayOfWeek), 0x01);  // Sunday
  EXPECT_EQ(h.reg(CmosRtc::kDayOfMonth), 0x29);
  EXPECT_EQ(h.reg(CmosRtc::kMonth), 0x11);
  EXPECT_EQ(h.reg(CmosRtc::kYear), 0x26);
  EXPECT_EQ(h.reg(CmosRtc::kCentury), 0x20);
}

TEST(CmosRtc, BinaryTimeAndDate) {
  RtcHarness h;

  h.set_reg(CmosRtc::kRegB, CmosRtc::kRegB24Hour | CmosRtc::kRegBBinary);

  EXPECT_EQ(h.reg(CmosRtc::kSeconds), 7);
  EXPECT_EQ(h.reg(CmosRtc::kMinutes), 45);
  EXPECT_EQ(h.reg(CmosRtc::kHours), 23);
  EXPECT_EQ(h.reg(CmosRtc::kDayOfMonth), 29);
  EXPECT_EQ(h.reg(CmosRtc::kMonth), 11);
  EXPECT_EQ(h.reg(CmosRtc::kYear), 26);
  EXPECT_EQ(h.reg(CmosRtc::kCentury), 20);
}

TEST(CmosRtc, TwelveHourBcdMarksPm) {
  RtcHarness h;

  h.set_reg(CmosRtc::kRegB, 0);

  EXPECT_EQ(h.reg(CmosRtc::kHours), CmosRtc::kHourPm | 0x11);
}

TEST(CmosRtc, TwelveHourBinaryShowsMidnightAsTwelveAm) {
  RtcHarness h;
  h.now = sys_days{year{2026} / 11 / 30} + 30min;

  h.set_reg(CmosRtc::kRegB, CmosRtc::kRegBBinary);

  EXPECT_EQ(h.reg(CmosRtc::kHours), 12);
}

TEST(CmosRtc, TwelveHourBinaryShowsNoonAsTwelvePm) {
  RtcHarness h;
  h.now = sys_days{year{2026} / 11 / 30} + 12h;

  h.set_reg(CmosRtc::kRegB, CmosRtc::kRegBBinary);

  EXPECT_EQ(h.reg(CmosRtc::kHours), CmosRtc::kHourPm | 12);
}

TEST(CmosRtc, ClockFollowsTheHost) {
  RtcHarness h;

  h.now += 60s;

  EXPECT_EQ(h.reg(CmosRtc::kMinutes), 0x46);
}

TEST(CmosRtc, TimeWritesAreIgnored) {
  RtcHarness h;

  h.set_reg(CmosRtc::kMinutes, 0x10);

  EXPECT_EQ(h.reg(CmosRtc::kMinutes), 0x45);
}

TEST(CmosRtc, NmiMaskBitOfIndexIsIgnored) {
  RtcHarness h;

  h.out(kIndexPort, 0x80 | CmosRtc::kMinutes);

  EXPECT_EQ(h.in(kDataPort), 0x45);
}

TEST(CmosRtc, RegisterAHasNoUpdateInProgressAndKeepsDivider) {
  RtcHarness h;
  const std::uint8_t initial = h.reg(CmosRtc::kRegA);

  h.set_reg(CmosRtc::kRegA, 0xA6);

  EXPECT_EQ(initial, 0x26);
  EXPECT_EQ(h.reg(CmosRtc::kRegA), 0x26);
}

TEST(CmosRtc, RegisterCReadsZeroAndDReportsValidRam) {
  RtcHarness h;
  h.set_reg(CmosRtc::kRegC, 0xFF);
  h.set_reg(CmosRtc::kRegD, 0x00);

  EXPECT_EQ(h.reg(CmosRtc::kRegC), 0x00);
  EXPECT_EQ(h.reg(CmosRtc::kRegD), CmosRtc::kRegDValidRam);
}

TEST(CmosRtc, MemorySizeBytesReadZero) {
  RtcHarness h;

  EXPECT_EQ(h.reg(0x30), 0);
  EXPECT_EQ(h.reg(0x31), 0);
  EXPECT_EQ(h.reg(0x34), 0);
  EXPECT_EQ(h.reg(0x35), 0);
}

TEST(CmosRtc, RamBytesKeepWrites) {
  RtcHarness h;

  h.set_reg(0x7F, 0x5A);

  EXPECT_EQ(h.reg(0x7F), 0x5A);
}

TEST(CmosRtc, IndexPortReadsAllOnes) {
  RtcHarness h;
  h.out(kIndexPort, CmosRtc::kRegB);

  EXPECT_EQ(h.in(kIndexPort), 0xFF);
}

TEST(CmosRtc, RealClockMatchesHostUtcYear) {
  CmosRtc rtc;
  const year_month_day today{floor<days>(system_clock::now())};
  const std::array<std::uint8_t, 1> index{CmosRtc::kYear};
  std::array<std::uint8_t, 1> value{};

  rtc.write(0, index);
  rtc.read(1, value);

  const unsigned year = static_cast<unsigned>(static_cast<int>(today.year())) % 100;
  EXPECT_EQ(value[0], ((year / 10) << 4) | (year % 10));
}

}  // namespace
}  // namespace heca::io

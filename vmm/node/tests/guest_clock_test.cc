#include "vmm/node/guest_clock.h"

#include <gtest/gtest.h>

namespace heca::vmm::node {
namespace {

using cluster::GuestDescription;
using cluster::GuestKind;

constexpr std::uint64_t kHostKhz = 2'100'000;

GuestDescription guest(GuestKind kind, std::uint32_t dilation) {
  GuestDescription d;
  d.kind = kind;
  d.time_dilation = dilation;
  return d;
}

TEST(GuestClock, TestGuestIsToldItsTscRate) {
  EXPECT_EQ(clock_cmdline(guest(GuestKind::kTest, 1), true, false, kHostKhz),
            " tsc_khz=2100000");
}

TEST(GuestClock, LinuxOnOneNodeKeepsItsOwnCalibration) {
  EXPECT_EQ(clock_cmdline(guest(GuestKind::kLinux, 1), false, false, kHostKhz), "");
}

TEST(GuestClock, LinuxAcrossNodesIsToldItsTscRateAndThatTheTscIsReliable) {
  EXPECT_EQ(clock_cmdline(guest(GuestKind::kLinux, 1), false, true, kHostKhz),
            " tsc_early_khz=2100000 tsc=reliable");
}

TEST(GuestClock, DilationMultipliesTheAnnouncedRate) {
  EXPECT_EQ(announced_tsc_khz(guest(GuestKind::kLinux, 10), kHostKhz), 21'000'000U);
  EXPECT_EQ(clock_cmdline(guest(GuestKind::kLinux, 10), false, false, kHostKhz),
            " tsc_early_khz=21000000 tsc=reliable");
  EXPECT_EQ(clock_cmdline(guest(GuestKind::kTest, 4), true, true, kHostKhz),
            " tsc_khz=8400000");
}

}  // namespace
}  // namespace heca::vmm::node

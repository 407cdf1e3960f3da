// add_io_devices' wiring without KVM: which ports it claims and which exit code each way of
// ending the guest reports. The VmFd holds no VM; only the UART (untouched here) would use it.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "io-aggregation/io_bus.h"
#include "kernel/base/fd.h"
#include "vmm/kvm/vm_fd.h"
#include "vmm/exit_codes.h"
#include "vmm/loader.h"
#include "vmm/pc_vm.h"

namespace heca::vmm {
namespace {

struct Devices {
  io::IoBus bus;
  VmFd vm{Fd{}, 0};
  std::vector<std::uint32_t> exits;
  Status added;

  Devices() {
    added = add_io_devices(
        bus, vm, [this](std::uint32_t code) { exits.push_back(code); }, [](std::uint32_t) {});
  }
  void out8(std::uint16_t port, std::uint8_t value) {
    const std::array<std::uint8_t, 1> data{value};
    ASSERT_TRUE(bus.write(io::AddressSpace::kPio, port, data)) << "port " << port;
  }
  void out16(std::uint16_t port, std::uint16_t value) {
    const std::array<std::uint8_t, 2> data{static_cast<std::uint8_t>(value),
                                           static_cast<std::uint8_t>(value >> 8)};
    ASSERT_TRUE(bus.write(io::AddressSpace::kPio, port, data)) << "port " << port;
  }
  bool claims(std::uint16_t port) const {
    std::array<std::uint8_t, 1> data{};
    return bus.read(io::AddressSpace::kPio, port, data);
  }
};

constexpr std::uint16_t kPm1aControl = kLinuxPmIoBase + 4;
constexpr std::uint16_t kPowerOffS5 = 0x3400;  // SLP_EN | SLP_TYP 5 (firmware::kAcpiS5SleepType)

TEST(PcDevices, ClaimsTheLegacyPorts) {
  Devices d;

  ASSERT_TRUE(d.added.has_value());
  EXPECT_TRUE(d.claims(kLinuxPmIoBase));
  EXPECT_TRUE(d.claims(kLinuxPmIoBase + 8));   // PM timer
  EXPECT_TRUE(d.claims(kLinuxPmIoBase + 11));  // its last byte
  EXPECT_FALSE(d.claims(kLinuxPmIoBase + 12));
  EXPECT_TRUE(d.claims(0x70));
  EXPECT_TRUE(d.claims(0x71));
  EXPECT_TRUE(d.claims(0xCF9));
  EXPECT_FALSE(d.claims(0xCF8));  // PCI configuration stays unclaimed
  EXPECT_TRUE(d.claims(0x64));
  EXPECT_FALSE(d.claims(0x60));
}

TEST(PcDevices, AcpiPowerOffEndsTheGuestWithZero) {
  Devices d;

  d.out16(kPm1aControl, kPowerOffS5);

  EXPECT_EQ(d.exits, std::vector<std::uint32_t>{0});
}

TEST(PcDevices, KeyboardControllerResetEndsTheGuestWithResetCodeAndSaysSo) {
  Devices d;
  testing::internal::CaptureStderr();

  d.out8(0x64, 0xFE);

  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(d.exits, std::vector<std::uint32_t>{kExitGuestReset});
  EXPECT_NE(err.find("guest requested a reset"), std::string::npos) << err;
}

TEST(PcDevices, ResetControlRegisterEndsTheGuestWithResetCode) {
  Devices d;

  d.out8(0xCF9, 0x06);

  EXPECT_EQ(d.exits, std::vector<std::uint32_t>{kExitGuestReset});
}

TEST(PcDevices, SecondResetReportsAgainButSaysItOnce) {
  Devices d;
  testing::internal::CaptureStderr();

  d.out8(0xCF9, 0x06);
  d.out8(0x64, 0xFE);

  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(d.exits, (std::vector<std::uint32_t>{kExitGuestReset, kExitGuestReset}));
  EXPECT_EQ(err.find("guest requested a reset"), err.rfind("guest requested a reset")) << err;
}

TEST(PcDevices, ResetCodeIsDistinctFromHecaCodes) {
  EXPECT_NE(kExitGuestReset, 0);
  EXPECT_NE(kExitGuestReset, kExitVmFailure);
  EXPECT_NE(kExitGuestReset, kExitTimeout);
  EXPECT_LT(kExitGuestReset, 128);  // not mistaken for a signal
}

}  // namespace
}  // namespace heca::vmm

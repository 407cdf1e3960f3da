// The legacy PC devices seen from a real guest: tiny hand-assembled long-mode guests on a VM of
// one node (NodeVm: create_pc_vm + add_io_devices) power off, reset, read the PM timer and the
// RTC, and the VM has an in-kernel PIT. Skips only where /dev/kvm cannot be opened.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "tests/support/kvm.h"
#include "kernel/base/fd.h"
#include "vmm/node/node_vm.h"
#include "vmm/pc_vm.h"

namespace heca::vmm {
namespace {

using Code = std::vector<std::uint8_t>;

// mov $0x604, %dx; mov $0x3400, %ax (SLP_EN | SLP_TYP 5); out %ax, %dx; 1: jmp 1b
const Code kAcpiPowerOff = {0x66, 0xBA, 0x04, 0x06, 0x66, 0xB8, 0x00, 0x34, 0x66, 0xEF, 0xEB, 0xFE};
// mov $0xFE, %al; out %al, $0x64; 1: jmp 1b
const Code kKeyboardReset = {0xB0, 0xFE, 0xE6, 0x64, 0xEB, 0xFE};
// mov $0xCF9, %dx; mov $0x06, %al; out %al, %dx; 1: jmp 1b
const Code kCf9Reset = {0x66, 0xBA, 0xF9, 0x0C, 0xB0, 0x06, 0xEE, 0xEB, 0xFE};
// mov $0x608, %dx; in %dx, %eax; mov %eax, %ebx; 1: in %dx, %eax; cmp %ebx, %eax; je 1b;
// mov $0x501, %dx; mov $42, %eax; out %eax, %dx; 2: jmp 2b   -- exits 42 once the timer moves
const Code kPmTimerMoves = {0x66, 0xBA, 0x08, 0x06, 0xED, 0x89, 0xC3, 0xED, 0x39, 0xD8, 0x74, 0xFB,
                            0x66, 0xBA, 0x01, 0x05, 0xB8, 0x2A, 0x00, 0x00, 0x00, 0xEF, 0xEB, 0xFE};
// mov $0x0D, %al; out %al, $0x70; in $0x71, %al; movzbl %al, %eax; mov $0x501, %dx;
// out %eax, %dx; 1: jmp 1b   -- exits with RTC register D
const Code kRtcRegisterD = {0xB0, 0x0D, 0xE6, 0x70, 0xE4, 0x71, 0x0F, 0xB6,
                            0xC0, 0x66, 0xBA, 0x01, 0x05, 0xEF, 0xEB, 0xFE};

class PcDevicesOnKvm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!heca::testing::kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  }

  // Runs `code` at 1 MiB on one vCPU; the guest's exit code, or -1 if the machine failed.
  static int run_guest(const Code& code) {
    auto vm = node::NodeVm::create({.description = node::one_node_guest(1, 16ULL << 20),
                                    .id = 0,
                                    .image = firmware::FlatImage{.image = code},
                                    .start = std::chrono::steady_clock::now(),
                                    .timeout = std::chrono::seconds(20)});
    EXPECT_TRUE(vm.has_value()) << vm.error().message();
    if (!vm) return -1;
    return (*vm)->run().exit_code;
  }
};

TEST_F(PcDevicesOnKvm, AcpiS5PowerOffExitsZero) {
  EXPECT_EQ(run_guest(kAcpiPowerOff), 0);
}

TEST_F(PcDevicesOnKvm, KeyboardControllerResetExitsWithResetCode) {
  EXPECT_EQ(run_guest(kKeyboardReset), kExitGuestReset);
}

TEST_F(PcDevicesOnKvm, ResetControlRegisterExitsWithResetCode) {
  EXPECT_EQ(run_guest(kCf9Reset), kExitGuestReset);
}

TEST_F(PcDevicesOnKvm, GuestSeesThePmTimerMove) {
  EXPECT_EQ(run_guest(kPmTimerMoves), 42);
}

TEST_F(PcDevicesOnKvm, GuestReadsRtcRegisterD) {
  EXPECT_EQ(run_guest(kRtcRegisterD), 0x80);
}

TEST_F(PcDevicesOnKvm, PcVmHasAnInKernelPit) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.has_value()) << kvm.error().message();
  auto vm = create_pc_vm(*kvm);
  ASSERT_TRUE(vm.has_value()) << vm.error().message();

  const Status again = vm->create_pit();

  // A second KVM_CREATE_PIT2 fails with EEXIST only because create_pc_vm made the first.
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, EEXIST) << again.error().message();
}

}  // namespace
}  // namespace heca::vmm

// The AP wakeup firmware on /dev/kvm: a hand-assembled flat guest whose BSP wakes AP 1 through
// the ACPI multiprocessor wakeup mailbox. Skips only where /dev/kvm cannot be opened.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "tests/support/kvm.h"
#include "firmware/ap_wakeup.h"
#include "firmware/le_bytes.h"
#include "kernel/base/fd.h"
#include "tests/support/wait.h"
#include "vmm/ap_park_waker.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/kvm_system.h"
#include "vmm/loader.h"
#include "vmm/exit_codes.h"
#include "vmm/pc_vm.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_boot.h"

namespace heca::vmm {
namespace {

constexpr std::uint32_t kVcpus = 2;
constexpr std::uint64_t kApRoutine = firmware::kKernelLoadAddr + 0x100;
constexpr std::uint64_t kMarker = 0x20'0000;
constexpr std::uint8_t kApPostCode = 0x42;   // port 0x80, written by the woken AP
constexpr std::uint8_t kBspPostCode = 0x0B;  // port 0x81, written once the AP acknowledged

void append(std::vector<std::uint8_t>& code, std::initializer_list<std::uint8_t> bytes) {
  code.insert(code.end(), bytes);
}

// Opcode, ModRM/SIB for an absolute [disp32] operand, then the displacement.
void append_abs(std::vector<std::uint8_t>& code, std::initializer_list<std::uint8_t> opcode,
                std::uint8_t modrm, std::uint64_t address) {
  append(code, opcode);
  append(code, {modrm, 0x25});
  firmware::append_le<std::uint32_t>(code, static_cast<std::uint32_t>(address));
}

// BSP at 1 MiB: wake `target_apic` at kApRoutine the way Linux does (apic_id, vector, then
// command), wait for the acknowledgement, post kBspPostCode and halt.
// The AP routine at +0x100: marker 0x5A and RBX at kMarker, post kApPostCode, halt.
std::vector<std::uint8_t> guest_code(std::uint32_t target_apic) {
  using firmware::ApWakeupLayout;
  std::vector<std::uint8_t> code;
  append_abs(code, {0xC7}, 0x04,
             ApWakeupLayout::kMailbox + firmware::kMailboxApicId);  // mov dword [..], imm32
  firmware::append_le<std::uint32_t>(code, target_apic);
  append_abs(code, {0x48, 0xC7}, 0x04,
             ApWakeupLayout::kMailbox + firmware::kMailboxWakeupVector);  // mov qword
  firmware::append_le<std::uint32_t>(code, static_cast<std::uint32_t>(kApRoutine));
  append_abs(code, {0x66, 0xC7}, 0x04,
             ApWakeupLayout::kMailbox + firmware::kMailboxCommand);  // mov word [..], 1
  firmware::append_le<std::uint16_t>(code, firmware::kMailboxWakeup);
  append_abs(code, {0x66, 0x83}, 0x3C,
             ApWakeupLayout::kMailbox + firmware::kMailboxCommand);  // wait: cmp word [..], 0
  append(code, {0x00, 0x75, 0xF5});                                  // jne wait
  append(code, {0xB0, kBspPostCode, 0xE6, 0x81});                    // mov al, imm8; out 0x81, al
  append(code, {0xF4, 0xEB, 0xFD});                                  // hlt; jmp hlt
  code.resize(kApRoutine - firmware::kKernelLoadAddr, 0xCC);
  append_abs(code, {0xC6}, 0x04, kMarker);  // mov byte [kMarker], 0x5a
  append(code, {0x5A});
  append_abs(code, {0x89}, 0x1C, kMarker + 4);    // mov [kMarker + 4], ebx
  append(code, {0xB0, kApPostCode, 0xE6, 0x80});  // mov al, imm8; out 0x80, al
  append(code, {0xF4, 0xEB, 0xFD});               // hlt; jmp hlt
  return code;
}

class PostCodes final : public VmOps {
 public:
  void pio_read(std::uint16_t, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), std::uint8_t{0xFF});
  }
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) override {
    if (port == 0x80) ap.store(data[0]);
    if (port == 0x81) bsp.store(data[0]);
    if (port == firmware::kApAwakePort) waker.write(0, data);
  }
  void mmio_read(std::uint64_t, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), std::uint8_t{0xFF});
  }
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) override {}
  std::atomic<int> ap{-1};
  std::atomic<int> bsp{-1};
  ApParkWaker waker{kApParkRousePeriod};
};

// Two vCPUs on the AP wakeup firmware, running guest_code(target_apic).
class MailboxVm {
 public:
  explicit MailboxVm(std::uint32_t target_apic)
      : code_(guest_code(target_apic)),
        kvm_(KvmSystem::open().value()),
        vm_(create_pc_vm(kvm_).value()),
        memory_(GuestMemory::create(4ULL << 20).value()) {
    EXPECT_TRUE(memory_.register_slots(vm_).has_value());
    const auto plan = plan_guest_boot({.ram = memory_.ranges(),
                                       .vcpu_count = kVcpus,
                                       .image = firmware::FlatImage{.image = code_},
                                       .ap_startup = firmware::ApStartup::kWakeupMailbox})
                          .value();
    EXPECT_EQ(plan.ap_entry_rip, firmware::ApWakeupLayout::kParkCode);
    EXPECT_TRUE(load_boot_plan(memory_, plan).has_value());
    const auto cpuid = kvm_.supported_cpuid().value();
    for (std::uint32_t i = 0; i < kVcpus; ++i) {
      auto fd = vm_.create_vcpu(i).value();
      EXPECT_TRUE(
          configure_vcpu(fd, {.index = i, .vcpu_count = kVcpus, .supported_cpuid = cpuid}, plan)
              .has_value());
      vcpus_.push_back(std::make_unique<Vcpu>(i, std::move(fd), ops_,
                                              [](std::uint32_t index, const std::string& why) {
                                                ADD_FAILURE() << "vCPU " << index << ": " << why;
                                              }));
    }
    ops_.waker.watch(1, *vcpus_[1]);
  }
  ~MailboxVm() {
    ops_.waker.stop();
    for (auto& vcpu : vcpus_) vcpu->stop();
    for (auto& vcpu : vcpus_) vcpu->join();
  }
  MailboxVm(const MailboxVm&) = delete;
  MailboxVm& operator=(const MailboxVm&) = delete;

  void start() {
    for (auto& vcpu : vcpus_) vcpu->start();
    ops_.waker.start();
  }
  [[nodiscard]] std::uint32_t marker_u32(std::uint64_t offset) const {
    const auto bytes = memory_.read(kMarker + offset, 4).value();
    return firmware::get_le<std::uint32_t>(bytes, 0);
  }
  [[nodiscard]] std::uint16_t mailbox_command() const {
    const auto bytes = memory_.read(firmware::ApWakeupLayout::kMailbox, 2).value();
    return firmware::get_le<std::uint16_t>(bytes, 0);
  }
  PostCodes& ops() { return ops_; }

 private:
  std::vector<std::uint8_t> code_;
  KvmSystem kvm_;
  VmFd vm_;
  GuestMemory memory_;
  PostCodes ops_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
};

class ApWakeupOnKvm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!heca::testing::kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  }
};

TEST_F(ApWakeupOnKvm, MailboxWakesTheAddressedApAtTheVector) {
  MailboxVm vm(1);

  vm.start();

  ASSERT_TRUE(heca::testing::wait_for([&] { return vm.ops().ap.load() == kApPostCode; },
                                      std::chrono::seconds(20)))
      << "AP 1 never ran the wakeup vector";
  EXPECT_TRUE(heca::testing::wait_for([&] { return vm.ops().bsp.load() == kBspPostCode; },
                                      std::chrono::seconds(20)))
      << "the BSP never saw the acknowledgement";
  EXPECT_EQ(vm.marker_u32(0) & 0xFF, 0x5Au);
  EXPECT_EQ(vm.marker_u32(4), 1u);  // RBX: the AP's APIC id
  EXPECT_EQ(vm.mailbox_command(), 0u);
  EXPECT_EQ(vm.ops().waker.awake(), std::vector<std::uint32_t>{1});  // reported, no longer roused
}

TEST_F(ApWakeupOnKvm, ApIgnoresAMailboxAddressedToAnotherApicId) {
  MailboxVm vm(2);

  vm.start();

  EXPECT_FALSE(heca::testing::wait_for([&] { return vm.ops().ap.load() != -1; },
                                       std::chrono::milliseconds(1500)));
  EXPECT_EQ(vm.ops().bsp.load(), -1);
  EXPECT_EQ(vm.mailbox_command(), firmware::kMailboxWakeup);
  EXPECT_TRUE(vm.ops().waker.awake().empty());
}

TEST(ApParkSregs, UseTheWakeupFirmwaresGdtAndPageTables) {
  const kvm_sregs sregs =
      long_mode_sregs({}, firmware::ApWakeupLayout::kGdt, firmware::ApWakeupLayout::kPml4);

  EXPECT_EQ(sregs.gdt.base, firmware::ApWakeupLayout::kGdt);
  EXPECT_EQ(sregs.cr3, firmware::ApWakeupLayout::kPml4);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_EQ(sregs.cs.selector, firmware::kBootCs);
}

// configure_vcpu() of vCPU 1 under a mailbox plan, as an owned vCPU or as a proxy.
class ApStartStateOnKvm : public ApWakeupOnKvm {
 protected:
  void configure(bool proxy) {
    kvm_.emplace(KvmSystem::open().value());
    vm_.emplace(kvm_->create_vm().value());
    ASSERT_TRUE(vm_->create_irqchip().has_value());
    const auto ram = firmware::pc_ram_layout(4ULL << 20);
    const std::vector<std::uint8_t> code = {0xF4};
    const auto plan = plan_guest_boot({.ram = ram,
                                       .vcpu_count = 2,
                                       .image = firmware::FlatImage{.image = code},
                                       .ap_startup = firmware::ApStartup::kWakeupMailbox})
                          .value();
    fd_.emplace(vm_->create_vcpu(1).value());
    const auto cpuid = kvm_->supported_cpuid().value();
    ASSERT_TRUE(
        configure_vcpu(
            *fd_, {.index = 1, .vcpu_count = 2, .supported_cpuid = cpuid, .proxy = proxy}, plan)
            .has_value());
  }
  std::optional<KvmSystem> kvm_;
  std::optional<VmFd> vm_;
  std::optional<VcpuFd> fd_;
};

TEST_F(ApStartStateOnKvm, OwnedApIsRunnableInTheParkLoopWithItsApicIdInRbx) {
  configure(/*proxy=*/false);

  const auto regs = fd_->get_regs().value();
  EXPECT_EQ(fd_->get_mp_state().value(), static_cast<std::uint32_t>(KVM_MP_STATE_RUNNABLE));
  EXPECT_EQ(regs.rip, firmware::ApWakeupLayout::kParkCode);
  EXPECT_EQ(regs.rbx, 1u);
  EXPECT_EQ(regs.rflags & (1u << 9), 0u);  // IF clear
  EXPECT_EQ(fd_->get_sregs().value().cr3, firmware::ApWakeupLayout::kPml4);
}

TEST_F(ApStartStateOnKvm, ProxyApKeepsWaitingForInitSipi) {
  configure(/*proxy=*/true);

  EXPECT_EQ(fd_->get_mp_state().value(), static_cast<std::uint32_t>(KVM_MP_STATE_UNINITIALIZED));
}

}  // namespace
}  // namespace heca::vmm

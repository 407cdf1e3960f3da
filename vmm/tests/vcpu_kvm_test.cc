// The vCPU run loop on /dev/kvm with tiny hand-assembled guests: PIO reaches VmOps, and
// stop/pause/resume kick a vCPU out of KVM_RUN. Skips only where /dev/kvm cannot be opened.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "tests/support/kvm.h"
#include "kernel/base/fd.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/kvm_system.h"
#include "vmm/loader.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_boot.h"

namespace heca::vmm {
namespace {

// mov $0x42, %al; out %al, $0x80; 1: jmp 1b
const std::vector<std::uint8_t> kOutThenSpin = {0xB0, 0x42, 0xE6, 0x80, 0xEB, 0xFE};

// Records the last byte written to port 0x80.
class RecordingOps final : public VmOps {
 public:
  void pio_read(std::uint16_t, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), std::uint8_t{0xFF});
  }
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) override {
    if (port == 0x80) last_post_code.store(data[0]);
  }
  void mmio_read(std::uint64_t, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), std::uint8_t{0xFF});
  }
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) override {}
  std::atomic<int> last_post_code{-1};
};

// One-vCPU VM running `code` at 1 MiB in long mode.
struct TinyVm {
  std::optional<KvmSystem> kvm;
  std::optional<VmFd> vm;
  std::optional<GuestMemory> memory;
  RecordingOps ops;
  std::unique_ptr<Vcpu> vcpu;
};

std::unique_ptr<TinyVm> make_tiny_vm(const std::vector<std::uint8_t>& code) {
  auto tiny = std::make_unique<TinyVm>();
  // .value() throws on failure, so a broken step fails the test instead of crashing it.
  auto kvm = KvmSystem::open().value();
  auto vm = kvm.create_vm().value();
  EXPECT_TRUE(vm.set_identity_map_addr(0xFFFB'C000).has_value());
  EXPECT_TRUE(vm.set_tss_addr(0xFFFB'D000).has_value());
  EXPECT_TRUE(vm.create_irqchip().has_value());
  auto memory = GuestMemory::create(4ULL << 20).value();
  EXPECT_TRUE(memory.register_slots(vm).has_value());
  auto plan = plan_guest_boot({.ram = memory.ranges(), .image = firmware::FlatImage{.image = code}})
                  .value();
  EXPECT_TRUE(load_boot_plan(memory, plan).has_value());
  auto fd = vm.create_vcpu(0).value();
  const auto cpuid = kvm.supported_cpuid().value();
  EXPECT_TRUE(configure_vcpu(fd, {.index = 0, .vcpu_count = 1, .supported_cpuid = cpuid}, plan)
                  .has_value());
  tiny->vcpu = std::make_unique<Vcpu>(0, std::move(fd), tiny->ops, nullptr);
  tiny->kvm.emplace(std::move(kvm));
  tiny->vm.emplace(std::move(vm));
  tiny->memory.emplace(std::move(memory));
  return tiny;
}

// Polls `done` until it holds or 10 s pass.
template <class Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

class VcpuOnKvm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!heca::testing::kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
    tiny_ = make_tiny_vm(kOutThenSpin);
  }
  std::unique_ptr<TinyVm> tiny_;
};

TEST_F(VcpuOnKvm, PioWriteReachesVmOps) {
  tiny_->vcpu->start();

  EXPECT_TRUE(eventually([&] { return tiny_->ops.last_post_code.load() == 0x42; }));

  tiny_->vcpu->stop();
  tiny_->vcpu->join();
}

TEST_F(VcpuOnKvm, StopKicksAVcpuSpinningInTheGuest) {
  tiny_->vcpu->start();
  ASSERT_TRUE(eventually([&] { return tiny_->ops.last_post_code.load() == 0x42; }));

  tiny_->vcpu->stop();
  tiny_->vcpu->join();

  EXPECT_EQ(tiny_->vcpu->state(), VcpuState::kStopped);
  EXPECT_GE(tiny_->vcpu->exit_counts()[static_cast<std::size_t>(ExitKind::kInterrupted)], 1u);
}

TEST_F(VcpuOnKvm, PauseLeavesKvmRunAndResumeReenters) {
  const auto interrupted = [&] {
    return tiny_->vcpu->exit_counts()[static_cast<std::size_t>(ExitKind::kInterrupted)];
  };
  tiny_->vcpu->start();
  ASSERT_TRUE(eventually([&] { return tiny_->ops.last_post_code.load() == 0x42; }));

  tiny_->vcpu->pause();
  EXPECT_TRUE(eventually([&] { return interrupted() >= 1; }));
  EXPECT_EQ(tiny_->vcpu->state(), VcpuState::kPaused);
  tiny_->vcpu->resume();
  tiny_->vcpu->stop();
  tiny_->vcpu->join();

  EXPECT_EQ(tiny_->vcpu->state(), VcpuState::kStopped);
}

}  // namespace
}  // namespace heca::vmm

// Proxy vCPUs on /dev/kvm: a local ring-0 guest sends fixed IPIs, an NMI and INIT/SIPI to
// proxies, which report them without ever running guest code; owner-side injection reaches a
// running vCPU. Skips only where /dev/kvm cannot be opened.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "tests/support/kvm.h"
#include "firmware/le_bytes.h"
#include "kernel/base/fd.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/kvm_system.h"
#include "vmm/loader.h"
#include "vmm/proxy/interrupt_inject.h"
#include "vmm/proxy/proxy_vcpu.h"
#include "vmm/proxy/tests/guest_asm.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_boot.h"

namespace heca::vmm::proxy {
namespace {

using heca::testing::kvm_available;

using testing::GuestAsm;

constexpr std::uint32_t kAckAddr = 0x3'0000;  // events the proxies reported so far
constexpr std::uint32_t kTscAddr = 0x3'1000;  // sender's TSC before each latency IPI
constexpr std::uint32_t kIdtAddr = 0x3'2000;
constexpr std::uint32_t kVectorAddr = 0x3'3000;
constexpr std::uint32_t kTssAddr = 0x3'4000;
constexpr std::uint32_t kStackTop = 0x3'8000;
constexpr std::uint64_t kTrampoline = 0x8000;  // SIPI vector 0x08
constexpr std::uint8_t kPoisonPort = 0x77;
constexpr std::uint16_t kDonePort = 0x501;
constexpr std::uint32_t kLatencySamples = 15;

// Real mode at 0x8000: report through kPoisonPort, then spin. A proxy must never get here.
const std::vector<std::uint8_t> kPoison = {0xB0, 0xBD, 0xE6, kPoisonPort, 0xEB, 0xFE};

class RecordingOps final : public VmOps {
 public:
  void pio_read(std::uint16_t, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), std::uint8_t{0xFF});
  }
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) override {
    if (port == kDonePort) done.store(true);
    if (port == 0x80) last_post_code.store(data[0]);
  }
  void mmio_read(std::uint64_t, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), std::uint8_t{0xFF});
  }
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) override {}
  std::atomic<bool> done{false};
  std::atomic<int> last_post_code{-1};
};

template <class Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A VM whose vCPU 0 runs `code` at 1 MiB in long mode; vCPUs 1.. become proxies.
class ProxyVm {
 public:
  ProxyVm(const std::vector<std::uint8_t>& code, std::uint32_t vcpus)
      : kvm_(KvmSystem::open().value()),
        vm_(kvm_.create_vm().value()),
        memory_(GuestMemory::create(4ULL << 20).value()) {
    EXPECT_TRUE(vm_.set_identity_map_addr(0xFFFB'C000).has_value());
    EXPECT_TRUE(vm_.set_tss_addr(0xFFFB'D000).has_value());
    EXPECT_TRUE(vm_.create_irqchip().has_value());
    EXPECT_TRUE(memory_.register_slots(vm_).has_value());
    plan_ = plan_guest_boot({.ram = memory_.ranges(),
                             .vcpu_count = vcpus,
                             .image = firmware::FlatImage{.image = code}})
                .value();
    EXPECT_TRUE(load_boot_plan(memory_, plan_).has_value());
    EXPECT_TRUE(memory_.write(kTrampoline, kPoison).has_value());
    const auto slot = static_cast<std::uint32_t>(memory_.ranges().size());
    firmware_.emplace(ProxyFirmware::create(vm_, slot, vcpus).value());
    cpuid_ = kvm_.supported_cpuid().value();
    for (std::uint32_t i = 0; i < vcpus; ++i) fds_.push_back(make_vcpu(i, vcpus));
  }

  VcpuFd make_vcpu(std::uint32_t index, std::uint32_t vcpus) {
    auto fd = vm_.create_vcpu(index).value();
    EXPECT_TRUE(
        configure_vcpu(fd, {.index = index, .vcpu_count = vcpus, .supported_cpuid = cpuid_}, plan_)
            .has_value());
    return fd;
  }

  void start_local(std::uint32_t index) {
    local_ = std::make_unique<Vcpu>(index, std::move(fds_[index]), ops_,
                                    [](std::uint32_t i, const std::string& why) {
                                      ADD_FAILURE() << "vCPU " << i << ": " << why;
                                    });
    local_->start();
  }

  ProxyVcpu& add_proxy(std::uint32_t index, bool stamp_tsc = false) {
    const ProxyConfig config{.apic_id = index, .slot = index, .stamp_guest_tsc = stamp_tsc};
    proxies_.push_back(
        ProxyVcpu::create(std::move(fds_[index]), *firmware_, config, [this](const ProxyEvent& e) {
          record(e);
        }).value());
    return *proxies_.back();
  }

  void record(const ProxyEvent& event) {
    std::uint32_t count = 0;
    {
      const std::lock_guard lock(mu_);
      events_.push_back(event);
      count = static_cast<std::uint32_t>(events_.size());
    }
    std::array<std::uint8_t, 4> bytes{};
    firmware::put_le<std::uint32_t>(bytes, 0, count);
    EXPECT_TRUE(memory_.write(kAckAddr, bytes).has_value());
  }

  std::vector<ProxyEvent> events() {
    const std::lock_guard lock(mu_);
    return events_;
  }

  ~ProxyVm() {
    for (auto& p : proxies_) p->stop();
    if (local_) local_->stop();
    proxies_.clear();
    local_.reset();
  }

  KvmSystem kvm_;
  VmFd vm_;
  GuestMemory memory_;
  firmware::BootPlan plan_;
  std::optional<ProxyFirmware> firmware_;
  std::vector<kvm_cpuid_entry2> cpuid_;
  std::vector<VcpuFd> fds_;
  RecordingOps ops_;
  std::unique_ptr<Vcpu> local_;
  std::vector<std::unique_ptr<ProxyVcpu>> proxies_;
  std::mutex mu_;
  std::vector<ProxyEvent> events_;  // GUARDED_BY(mu_)
};

// Each send waits until the proxies have reported `acks` events, so no IPI coalesces. The
// wait after INIT plays the MP spec's INIT-to-SIPI delay (see README.md for why it matters).
std::vector<std::uint8_t> sender_guest() {
  GuestAsm a;
  std::uint32_t acks = 0;
  a.x2apic_enable();
  a.send_ipi(1, 0x40), a.wait_at_least(kAckAddr, ++acks);
  a.send_ipi(1, 0x41), a.wait_at_least(kAckAddr, ++acks);
  a.send_ipi(1, 0x400), a.wait_at_least(kAckAddr, ++acks);   // NMI
  a.send_ipi(2, 0x4500), a.wait_at_least(kAckAddr, ++acks);  // INIT, level assert
  a.send_ipi(2, 0x600 | (kTrampoline >> 12)), a.wait_at_least(kAckAddr, ++acks);  // SIPI
  for (std::uint32_t i = 0; i < kLatencySamples; ++i) {
    a.rdtsc(), a.store_eax(kTscAddr + 8 * i), a.store_edx(kTscAddr + 8 * i + 4);
    a.send_ipi(1, 0x42), a.wait_at_least(kAckAddr, ++acks);
  }
  a.out32(kDonePort, 0);
  a.cli_hlt_loop();
  return a.code();
}

bool has_event(const std::vector<ProxyEvent>& events, ProxyEventKind kind, std::uint32_t apic,
               std::uint8_t vector) {
  return std::ranges::any_of(events, [&](const ProxyEvent& e) {
    return e.kind == kind && e.apic_id == apic && e.vector == vector;
  });
}

std::uint64_t sender_tsc(ProxyVm& vm, std::uint32_t i) {
  return firmware::get_le<std::uint64_t>(vm.memory_.read(kTscAddr + 8 * i, 8).value(), 0);
}

// p50 of (proxy TSC at the report - sender TSC before its ICR write), in microseconds.
double latency_p50_us(ProxyVm& vm, const std::vector<ProxyEvent>& events, std::uint32_t khz) {
  std::vector<double> us;
  for (const ProxyEvent& e : events) {
    if (e.kind != ProxyEventKind::kInterrupt || e.vector != 0x42) continue;
    const auto sent = sender_tsc(vm, static_cast<std::uint32_t>(us.size()));
    us.push_back(static_cast<double>(e.guest_tsc - sent) * 1000.0 / khz);
  }
  std::ranges::sort(us);
  return us.empty() ? -1.0 : us[us.size() / 2];
}

TEST(ProxyVcpu, ReportsIpisNmiInitAndSipiSentByALocalVcpu) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  ProxyVm vm(sender_guest(), 3);
  const std::uint32_t khz = vm.fds_[0].tsc_khz().value();
  ProxyVcpu& apic1 = vm.add_proxy(1, /*stamp_tsc=*/true);
  ProxyVcpu& apic2 = vm.add_proxy(2);
  apic1.start();
  apic2.start();

  vm.start_local(0);
  ASSERT_TRUE(eventually([&] { return vm.ops_.done.load(); }));

  const auto events = vm.events();
  EXPECT_TRUE(has_event(events, ProxyEventKind::kInterrupt, 1, 0x40));
  EXPECT_TRUE(has_event(events, ProxyEventKind::kInterrupt, 1, 0x41));
  EXPECT_TRUE(has_event(events, ProxyEventKind::kNmi, 1, 0));
  EXPECT_TRUE(has_event(events, ProxyEventKind::kInit, 2, 0));
  EXPECT_TRUE(has_event(events, ProxyEventKind::kSipi, 2, 0x08));
  EXPECT_EQ(apic1.stats().escapes + apic2.stats().escapes, 0u);
  EXPECT_EQ(apic1.stats().faults + apic2.stats().faults, 0u);
  EXPECT_EQ(apic1.stats().interrupts, 2u + kLatencySamples);
  std::printf("[ MEASURED ] ICR write -> proxy port exit p50: %.1f us over %u IPIs\n",
              latency_p50_us(vm, events, khz), kLatencySamples);
}

// Ring-0 guest for vCPU 0: an IDT gate for 0x50 whose handler stores 0x50 at kVectorAddr.
constexpr std::size_t kHandlerOffset = 0x100;
std::vector<std::uint8_t> idt_guest() {
  GuestAsm a;
  a.mov_rsp(kStackTop);  // the boot state has no stack, and interrupts push onto it
  a.x2apic_enable();
  a.out32(0x80, 1);  // ready: the LAPIC accepts fixed interrupts from here on
  a.sti_hlt_loop();
  a.pad_to(kHandlerOffset);
  a.store_imm(kVectorAddr, 0x50);
  a.eoi();
  a.iretq();
  return a.code();
}

void install_idt_gate(ProxyVm& vm, std::uint8_t vector, std::uint64_t handler) {
  std::array<std::uint8_t, 16> gate{};
  firmware::put_le<std::uint64_t>(
      gate, 0,
      (handler & 0xFFFF) | 0x10ULL << 16 | 0x8EULL << 40 | ((handler >> 16) & 0xFFFF) << 48);
  EXPECT_TRUE(vm.memory_.write(kIdtAddr + vector * 16ULL, gate).has_value());
  auto sregs = vm.fds_[0].get_sregs().value();
  sregs.idt.base = kIdtAddr;
  sregs.idt.limit = 256 * 16 - 1;
  // Long-mode interrupt delivery needs a 64-bit TSS in TR; an all-zero one will do.
  sregs.tr.base = kTssAddr;
  sregs.tr.limit = 0x67;
  sregs.tr.type = 0xB;
  sregs.tr.present = 1;
  sregs.tr.s = 0;
  EXPECT_TRUE(vm.fds_[0].set_sregs(sregs).has_value());
}

TEST(InterruptInject, FixedIpiReachesTheIdtHandlerOfARunningVcpu) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  ProxyVm vm(idt_guest(), 1);
  install_idt_gate(vm, 0x50, firmware::kKernelLoadAddr + kHandlerOffset);
  vm.start_local(0);
  ASSERT_TRUE(eventually([&] { return vm.ops_.last_post_code.load() == 1; }));

  ASSERT_TRUE(inject_fixed_ipi(vm.vm_, 0, 0x50).has_value());

  EXPECT_TRUE(eventually([&] {
    return firmware::get_le<std::uint32_t>(vm.memory_.read(kVectorAddr, 4).value(), 0) == 0x50;
  })) << vm.local_->stats_line();
}

TEST(InterruptInject, VmmInjectedIpiNmiAndInitSipiReachAProxy) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  ProxyVm vm(idt_guest(), 2);
  ProxyVcpu& proxy = vm.add_proxy(1);
  proxy.start();

  ASSERT_TRUE(inject_fixed_ipi(vm.vm_, 1, 0x61).has_value());
  ASSERT_TRUE(eventually([&] { return proxy.stats().interrupts == 1; }));
  ASSERT_TRUE(inject_nmi(vm.vm_, 1).has_value());
  ASSERT_TRUE(eventually([&] { return proxy.stats().nmis == 1; }));
  ASSERT_TRUE(inject_init(vm.vm_, 1).has_value());
  ASSERT_TRUE(eventually([&] { return proxy.stats().inits == 1; }));
  ASSERT_TRUE(inject_sipi(vm.vm_, 1, 0x08).has_value());
  ASSERT_TRUE(eventually([&] { return proxy.stats().sipis == 1; }));
  ASSERT_TRUE(inject_fixed_ipi(vm.vm_, 1, 0x62).has_value());  // re-parked: still a proxy

  ASSERT_TRUE(eventually([&] { return proxy.stats().interrupts == 2; }));
  const auto events = vm.events();
  EXPECT_TRUE(has_event(events, ProxyEventKind::kInterrupt, 1, 0x61));
  EXPECT_TRUE(has_event(events, ProxyEventKind::kSipi, 1, 0x08));
  EXPECT_TRUE(has_event(events, ProxyEventKind::kInterrupt, 1, 0x62));
  EXPECT_EQ(proxy.stats().escapes, 0u);
}

TEST(ProxyVcpu, ExceptionVectorIsReportedAsAFaultAndTheProxyIsReparked) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  ProxyVm vm(idt_guest(), 2);
  ProxyVcpu& proxy = vm.add_proxy(1);
  proxy.start();

  ASSERT_TRUE(inject_fixed_ipi(vm.vm_, 1, 20).has_value());  // lands on the #VE gate
  ASSERT_TRUE(eventually([&] { return proxy.stats().faults == 1; }));
  ASSERT_TRUE(inject_fixed_ipi(vm.vm_, 1, 0x63).has_value());

  ASSERT_TRUE(eventually([&] { return proxy.stats().interrupts == 1; }));
  const auto events = vm.events();
  EXPECT_TRUE(has_event(events, ProxyEventKind::kFault, 1, 20));
  EXPECT_TRUE(has_event(events, ProxyEventKind::kInterrupt, 1, 0x63));
  EXPECT_EQ(proxy.stats().escapes, 0u);
}

}  // namespace
}  // namespace heca::vmm::proxy

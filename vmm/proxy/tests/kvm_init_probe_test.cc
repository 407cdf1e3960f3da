// Probes of how this host's KVM treats INIT and SIPI to a halted, interrupt-enabled vCPU: the
// facts ProxyVcpu's INIT/SIPI handling rests on. DISABLED_ ones print measurements only; run
// them with --gtest_also_run_disabled_tests.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/kvm.h"
#include "kernel/base/fd.h"
#include "vmm/kvm/kvm_system.h"
#include "vmm/proxy/interrupt_inject.h"
#include "vmm/proxy/proxy_firmware.h"
#include "vmm/proxy/proxy_vcpu.h"
#include "vmm/vcpu.h"

namespace heca::vmm::proxy {
namespace {

using heca::testing::kvm_available;

using std::chrono::milliseconds;
// The probes measure the 1 ms kick the README figures were taken with (not the default).
constexpr std::chrono::microseconds kProbeKick{1000};

// A VM with RAM-less vCPU 1 parked in the proxy firmware; the probe drives it by hand.
struct ProbeVm {
  KvmSystem kvm = KvmSystem::open().value();
  VmFd vm = kvm.create_vm().value();
  std::optional<ProxyFirmware> firmware;
  std::optional<VcpuFd> vcpu;

  ProbeVm() {
    EXPECT_TRUE(vm.set_identity_map_addr(0xFFFB'C000).has_value());
    EXPECT_TRUE(vm.set_tss_addr(0xFFFB'D000).has_value());
    EXPECT_TRUE(vm.create_irqchip().has_value());
    firmware.emplace(ProxyFirmware::create(vm, 0, 2).value());
    vcpu.emplace(vm.create_vcpu(1).value());
    const auto cpuid = kvm.supported_cpuid().value();
    EXPECT_TRUE(vcpu->set_cpuid(cpuid).has_value());
    EXPECT_TRUE(vcpu->set_sregs(firmware->park_sregs(vcpu->get_sregs().value(), 1)).has_value());
    EXPECT_TRUE(vcpu->set_regs(firmware->park_regs(1)).has_value());
    EXPECT_TRUE(vcpu->set_msr(0x80F, 0x1FF).has_value());
    EXPECT_TRUE(vcpu->set_mp_state(KVM_MP_STATE_RUNNABLE).has_value());
  }
};

struct Observed {
  std::atomic<int> kvm_run_returns{0};
  std::atomic<int> last_errno{0};
  std::atomic<std::uint32_t> mp_state_after_kick{99};
  std::atomic<int> sipi_vector_in_events{-1};
  std::atomic<std::uint32_t> mp_state_after_sipi{99};
  std::atomic<int> cs_selector{-1};
  std::atomic<std::uint64_t> rip{~0ULL};
};

TEST(KvmInitProbe, DISABLED_WhatKvmDoesWithInitAndSipiToAHaltedVcpu) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  install_kick_signal_handler();
  ProbeVm probe;
  Observed seen;
  std::atomic<int> phase{0};  // 0 run, 1 hold after kick, 2 read SIPI state
  std::thread runner([&] {
    while (phase.load() == 0) {
      auto ran = probe.vcpu->run();
      seen.kvm_run_returns.fetch_add(1);
      seen.last_errno.store(ran ? 0 : ran.error().code);
      if (!ran && phase.load() != 0) break;
    }
    seen.mp_state_after_kick.store(probe.vcpu->get_mp_state().value());
    while (phase.load() != 2) std::this_thread::sleep_for(milliseconds(1));
    seen.sipi_vector_in_events.store(
        static_cast<int>(probe.vcpu->get_vcpu_events().value().sipi_vector));
    seen.mp_state_after_sipi.store(probe.vcpu->get_mp_state().value());
    seen.cs_selector.store(probe.vcpu->get_sregs().value().cs.selector);
    seen.rip.store(probe.vcpu->get_regs().value().rip);
  });
  std::this_thread::sleep_for(milliseconds(100));
  const int before_init = seen.kvm_run_returns.load();

  ASSERT_TRUE(inject_init(probe.vm, 1).has_value());
  std::this_thread::sleep_for(milliseconds(500));
  const int after_init = seen.kvm_run_returns.load();
  phase.store(1);
  ::pthread_kill(runner.native_handle(), SIGUSR1);
  std::this_thread::sleep_for(milliseconds(100));
  ASSERT_TRUE(inject_sipi(probe.vm, 1, 0x08).has_value());
  phase.store(2);
  runner.join();

  std::printf("[ MEASURED ] KVM_RUN returns in 500 ms after INIT: %d (before INIT: %d)\n",
              after_init - before_init, before_init);
  std::printf("[ MEASURED ] after a kick: errno %d, mp_state %u (INIT_RECEIVED=%d)\n",
              seen.last_errno.load(), seen.mp_state_after_kick.load(), KVM_MP_STATE_INIT_RECEIVED);
  std::printf(
      "[ MEASURED ] after SIPI 0x08: events.sipi_vector %d; GET_MP_STATE %u; "
      "CS %#x RIP %#llx\n",
      seen.sipi_vector_in_events.load(), seen.mp_state_after_sipi.load(), seen.cs_selector.load(),
      static_cast<unsigned long long>(seen.rip.load()));
}

// INIT and SIPI back to back (as Linux sends them with init_udelay=0): how often the
// proxy is caught in INIT_RECEIVED by a kick before the SIPI lands, versus running guest code.
TEST(KvmInitProbe, DISABLED_BackToBackInitSipiRace) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  for (const int gap_us : {0, 500, 2000}) {
    ProbeVm probe;
    auto proxy = ProxyVcpu::create(std::move(*probe.vcpu), *probe.firmware,
                                   {.apic_id = 1, .slot = 1, .kick_period = kProbeKick}, nullptr)
                     .value();
    proxy->start();
    constexpr int kRounds = 20;
    for (int i = 0; i < kRounds; ++i) {
      const auto before = proxy->stats();
      ASSERT_TRUE(inject_init(probe.vm, 1).has_value());
      std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
      ASSERT_TRUE(inject_sipi(probe.vm, 1, 0x08).has_value());
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (proxy->stats().sipis == before.sipis && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(1));
      }
    }
    const auto stats = proxy->stats();
    std::printf(
        "[ MEASURED ] INIT->SIPI gap %d us, kick 1 ms: %d rounds, %llu SIPIs "
        "reported, %llu of them after the proxy escaped\n",
        gap_us, kRounds, static_cast<unsigned long long>(stats.sipis),
        static_cast<unsigned long long>(stats.escapes));
    proxy->stop();
  }
}

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// The price of the periodic kick: CPU time of one idle proxy over one second.
TEST(KvmInitProbe, DISABLED_IdleProxyCpuCost) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  ProbeVm probe;
  auto proxy = ProxyVcpu::create(std::move(*probe.vcpu), *probe.firmware,
                                 {.apic_id = 1, .slot = 1, .kick_period = kProbeKick}, nullptr)
                   .value();
  proxy->start();
  std::this_thread::sleep_for(milliseconds(100));
  const double cpu_before = cpu_seconds();
  const auto kicks_before = proxy->stats().kicks;
  std::this_thread::sleep_for(milliseconds(1000));
  std::printf("[ MEASURED ] idle proxy, kick 1 ms: %llu kicks/s, %.1f%% of one CPU\n",
              static_cast<unsigned long long>(proxy->stats().kicks - kicks_before),
              (cpu_seconds() - cpu_before) * 100.0);
  proxy->stop();
}

}  // namespace
}  // namespace heca::vmm::proxy

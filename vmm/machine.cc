#include "vmm/machine.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <string_view>

#include "firmware/acpi.h"
#include "firmware/test_guest_abi.h"
#include "io-aggregation/acpi_pm.h"
#include "io-aggregation/cmos_rtc.h"
#include "io-aggregation/debug_exit.h"
#include "io-aggregation/reset_control.h"
#include "io-aggregation/uart_8250.h"
#include "firmware/ap_wakeup.h"
#include "vmm/control/node_status.h"
#include "vmm/vcpu_boot.h"

namespace heca::vmm {
namespace {

// KVM needs a TSS (3 pages) and an identity-map page below 4 GiB; both sit in the MMIO
// hole, clear of guest RAM, the IOAPIC and the LAPIC.
constexpr std::uint64_t kIdentityMapAddr = 0xFFFB'C000;
constexpr std::uint64_t kTssAddr = 0xFFFB'D000;
constexpr std::uint32_t kUartGsi = 4;
// Reserve room for the longest " tsc_khz=N" so a dry-run plan fails exactly like the real one.
constexpr std::string_view kTscKhzPlaceholder = " tsc_khz=4294967295";

// Writes every byte to stdout exactly once, retrying short writes.
void write_stdout(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout is gone; the guest keeps running without a console
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

Status validate_sizes(const MachineConfig& config) {
  if (config.vcpu_count == 0) return make_error("--vcpus must be at least 1");
  if (config.memory_bytes == 0) return make_error("--memory must not be 0");
  if (config.memory_bytes % firmware::kPageSize != 0) {
    return make_error(fmt::format("--memory {} is not a multiple of the {}-byte page",
                                  config.memory_bytes, firmware::kPageSize));
  }
  return {};
}

Status validate_vcpu_limit(const MachineConfig& config, const KvmSystem& kvm) {
  const int max_vcpus = kvm.max_vcpus();
  if (config.vcpu_count > static_cast<std::uint32_t>(max_vcpus)) {
    return make_error(fmt::format("--vcpus {} is more than this host's KVM allows ({})",
                                  config.vcpu_count, max_vcpus));
  }
  return {};
}

// A dry run of the boot plan, so image and size errors need no /dev/kvm.
Status validate_boot(const MachineConfig& config) {
  const auto ram = firmware::pc_ram_layout(config.memory_bytes);
  std::string cmdline = config.cmdline;
  if (config.append_tsc_khz) cmdline += kTscKhzPlaceholder;
  auto plan = plan_guest_boot(
      {.ram = ram,
       .vcpu_count = config.vcpu_count,
       .cmdline = cmdline,
       .image = config.image,
       .extra_writes = config.extra_writes});
  if (!plan) return std::unexpected(plan.error());
  return {};
}

// Input errors first, in the order a user would fix them; a missing /dev/kvm comes last.
Result<KvmSystem> validate_and_open_kvm(const MachineConfig& config) {
  if (auto s = validate_sizes(config); !s) return std::unexpected(s.error());
  auto kvm = KvmSystem::open();
  if (kvm) {
    if (auto s = validate_vcpu_limit(config, *kvm); !s) return std::unexpected(s.error());
  }
  if (auto s = validate_boot(config); !s) return std::unexpected(s.error());
  return kvm;
}

// Without a PIT the guest still runs (the test guests never use it); Linux then calibrates
// its TSC against the PM timer or kvmclock. Said once per process: every VM would say the same.
void create_pit_or_warn(VmFd& vm) {
  static std::once_flag warned;
  if (auto s = vm.create_pit(); !s) {
    std::call_once(warned, [&s] {
      // stderr, not spdlog: `heca run` keeps spdlog's default stdout logger, the guest console.
      std::fprintf(stderr,
                   "heca: no in-kernel PIT on this host's KVM (%s); the guest has no IRQ 0 timer\n",
                   s.error().message().c_str());
    });
  }
}

// Every way the guest can end calls `on_exit`; a reset also says so, once per guest (`said` is
// shared by the guest's reset ports, as Linux tries one after another).
io::ResetHandler reset_handler(const std::function<void(std::uint32_t)>& on_exit,
                               std::shared_ptr<std::atomic<bool>> said) {
  return [on_exit, said = std::move(said)] {
    if (!said->exchange(true)) {
      std::fprintf(stderr,
                   "heca: guest requested a reset; heca does not restart guests (exit %d)\n",
                   kExitGuestReset);
    }
    on_exit(static_cast<std::uint32_t>(kExitGuestReset));
  };
}

Status add_device(io::IoBus& bus, std::uint64_t base, std::uint64_t length,
                  std::shared_ptr<io::IoDevice> device) {
  return bus.add(io::AddressSpace::kPio, base, length, std::move(device));
}

// The legacy PC devices an unmodified Linux kernel expects: ACPI PM block, RTC, reset ports.
Status add_pc_legacy_devices(io::IoBus& bus, const std::function<void(std::uint32_t)>& on_exit) {
  auto pm =
      std::make_shared<io::AcpiPmDevice>(firmware::kAcpiS5SleepType, [on_exit] { on_exit(0); });
  if (auto s = add_device(bus, kLinuxPmIoBase, io::AcpiPmDevice::kPortCount, pm); !s) return s;
  auto rtc = std::make_shared<io::CmosRtc>();
  if (auto s = add_device(bus, io::CmosRtc::kBasePort, io::CmosRtc::kPortCount, rtc); !s) return s;
  auto said = std::make_shared<std::atomic<bool>>(false);
  auto cf9 = std::make_shared<io::ResetControlRegister>(reset_handler(on_exit, said));
  if (auto s = add_device(bus, io::ResetControlRegister::kPort,
                          io::ResetControlRegister::kPortCount, cf9);
      !s) {
    return s;
  }
  auto i8042 = std::make_shared<io::I8042ResetPort>(reset_handler(on_exit, said));
  return add_device(bus, io::I8042ResetPort::kPort, io::I8042ResetPort::kPortCount, i8042);
}

}  // namespace

Result<VmFd> create_pc_vm(const KvmSystem& kvm) {
  auto vm = kvm.create_vm();
  if (!vm) return std::unexpected(vm.error());
  if (auto s = vm->set_identity_map_addr(kIdentityMapAddr); !s) return std::unexpected(s.error());
  if (auto s = vm->set_tss_addr(kTssAddr); !s) return std::unexpected(s.error());
  if (auto s = vm->create_irqchip(); !s) return std::unexpected(s.error());
  create_pit_or_warn(*vm);
  return vm;
}

Status add_io_devices(io::IoBus& bus, VmFd& vm, std::function<void(std::uint32_t)> on_exit,
                      std::function<void(std::uint32_t)> on_event) {
  auto uart = std::make_shared<io::Uart8250>(write_stdout, [&vm](bool level) {
    // A failed KVM_IRQ_LINE means the VM fd is broken: the console loses its interrupt (said
    // once per process, as create_pit_or_warn does), and the guest goes on.
    static std::once_flag warned;
    if (auto s = vm.irq_line(kUartGsi, level); !s) {
      std::call_once(warned, [&s] {
        std::fprintf(stderr,
                     "heca: serial console: raising GSI %u: %s; its interrupts are lost from "
                     "here on\n",
                     static_cast<unsigned>(kUartGsi), s.error().message().c_str());
      });
    }
  });
  if (auto s = add_device(bus, firmware::abi::kUartPort, io::Uart8250::kRegisterCount, uart); !s) {
    return s;
  }
  if (auto s = add_pc_legacy_devices(bus, on_exit); !s) return s;
  auto debug = std::make_shared<io::DebugExitDevice>(std::move(on_exit), std::move(on_event));
  return add_device(bus, io::DebugExitDevice::kBasePort, io::DebugExitDevice::kPortCount, debug);
}

Result<std::unique_ptr<Machine>> Machine::create(const MachineConfig& config) {
  auto kvm = validate_and_open_kvm(config);
  if (!kvm) return std::unexpected(kvm.error());
  auto cpuid = kvm->supported_cpuid();
  if (!cpuid) return std::unexpected(cpuid.error());
  auto vm = create_pc_vm(*kvm);
  if (!vm) return std::unexpected(vm.error());
  auto memory = GuestMemory::create(config.memory_bytes);
  if (!memory) return std::unexpected(memory.error());
  if (auto s = memory->register_slots(*vm); !s) return std::unexpected(s.error());
  std::unique_ptr<Machine> machine(
      new Machine(config, std::move(*kvm), std::move(*vm), std::move(*memory)));
  if (auto s = machine->add_devices(); !s) return std::unexpected(s.error());
  if (auto s = machine->create_vcpus(); !s) return std::unexpected(s.error());
  if (auto s = machine->boot(*cpuid); !s) return std::unexpected(s.error());
  return machine;
}

Machine::Machine(const MachineConfig& config, KvmSystem kvm, VmFd vm, GuestMemory memory)
    : config_(config), kvm_(std::move(kvm)), vm_(std::move(vm)), memory_(std::move(memory)) {}

Machine::~Machine() {
  stop_all();
  for (auto& vcpu : vcpus_) vcpu->join();
}

Status Machine::add_devices() {
  return add_io_devices(
      bus_, vm_, [this](std::uint32_t code) { on_guest_exit(code); },
      [this](std::uint32_t event) { on_guest_event(event); });
}

Status Machine::create_vcpus() {
  for (std::uint32_t i = 0; i < config_.vcpu_count; ++i) {
    auto fd = vm_.create_vcpu(i);
    if (!fd) return std::unexpected(fd.error());
    vcpus_.push_back(std::make_unique<Vcpu>(
        i, std::move(*fd), ops_,
        [this](std::uint32_t index, const std::string& why) { on_vcpu_fatal(index, why); }));
  }
  return {};
}

Status Machine::boot(std::span<const kvm_cpuid_entry2> supported_cpuid) {
  std::string cmdline = config_.cmdline;
  if (config_.append_tsc_khz) {
    auto khz = vcpus_[0]->fd().tsc_khz();
    if (!khz) return std::unexpected(khz.error());
    cmdline += fmt::format(" tsc_khz={}", *khz);
  }
  auto plan = plan_guest_boot({.ram = memory_.ranges(),
                               .vcpu_count = config_.vcpu_count,
                               .cmdline = cmdline,
                               .image = config_.image,
                               .extra_writes = config_.extra_writes});
  if (!plan) return std::unexpected(plan.error());
  if (auto s = load_boot_plan(memory_, *plan); !s) return s;
  const bool tsc_deadline = kvm_.check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
  for (auto& vcpu : vcpus_) {
    const VcpuBootConfig boot_config{.index = vcpu->index(),
                                     .vcpu_count = config_.vcpu_count,
                                     .supported_cpuid = supported_cpuid,
                                     .tsc_deadline = tsc_deadline};
    if (auto s = configure_vcpu(vcpu->fd(), boot_config, *plan); !s) return s;
  }
  if (plan->ap_entry_rip != 0 && vcpus_.size() > 1) {
    park_waker_ = std::make_shared<ApParkWaker>(kApParkRousePeriod);
    if (auto s = bus_.add(io::AddressSpace::kPio, firmware::kApAwakePort, 1, park_waker_); !s) {
      return s;
    }
    for (std::size_t i = 1; i < vcpus_.size(); ++i) park_waker_->watch(vcpus_[i]->index(), *vcpus_[i]);
  }
  return {};
}

VmOutcome Machine::run() {
  for (auto& vcpu : vcpus_) vcpu->start();
  if (park_waker_) park_waker_->start();
  started_.store(true);
  if (config_.timeout.count() > 0) {
    if (!latch_.wait_for(config_.timeout)) {
      latch_.finish({kExitTimeout, fmt::format("guest did not finish within {} s; stopped it",
                                               config_.timeout.count())});
    }
  } else {
    latch_.wait();
  }
  if (park_waker_) park_waker_->stop();
  stop_all();
  for (auto& vcpu : vcpus_) vcpu->join();
  return *latch_.outcome();
}

Result<std::span<const std::uint8_t>> Machine::read_guest(std::uint64_t gpa, std::uint64_t length) const {
  return memory_.read(gpa, length);
}

MachineStats Machine::stats_report() const {
  MachineStats stats{.vcpus = {}, .unclaimed_io = ops_.unclaimed()};
  for (const auto& vcpu : vcpus_) stats.vcpus.push_back(exit_stats_of(*vcpu));
  return stats;
}

Result<nlohmann::json> Machine::status() {
  control::NodeStatus status{.node = 0, .roles = {"compute", "memory", "io"}};
  for (const auto& vcpu : vcpus_) {
    status.vcpus.push_back({.index = vcpu->index(),
                            .apic_id = vcpu->index(),
                            .state = std::string(vcpu->describe_state())});
  }
  if (const auto outcome = latch_.outcome()) {
    status.guest = control::GuestState::kStopped;
    status.exit_code = outcome->exit_code;
    status.reason = outcome->message;
  } else if (started_.load()) {
    status.guest = paused_.load() ? control::GuestState::kPaused : control::GuestState::kRunning;
  }
  return control::to_json(status);
}

Result<nlohmann::json> Machine::stats() {
  return to_json(stats_report());
}

Status Machine::pause() {
  if (latch_.outcome()) return make_error("the guest has stopped");
  if (!started_.load()) return make_error("the guest is still booting");
  paused_.store(true);
  for (auto& vcpu : vcpus_) vcpu->pause();
  return {};
}

Status Machine::resume() {
  if (latch_.outcome()) return make_error("the guest has stopped");
  for (auto& vcpu : vcpus_) vcpu->resume();
  paused_.store(false);
  return {};
}

Status Machine::stop() {
  latch_.finish({kExitStoppedByControl, "stopped by `heca ctl stop`"});
  stop_all();
  return {};
}

void Machine::stop_all() {
  for (auto& vcpu : vcpus_) vcpu->stop();
}

void Machine::on_guest_exit(std::uint32_t code) {
  latch_.finish({static_cast<int>(std::min<std::uint32_t>(code, 255)), {}});
  stop_all();
}

void Machine::on_guest_event(std::uint32_t event) const {
  const std::chrono::duration<double, std::milli> at =
      std::chrono::steady_clock::now() - config_.start;
  std::fprintf(stderr, "heca: event %u at %.3f ms\n", event, at.count());
}

void Machine::on_vcpu_fatal(std::uint32_t index, const std::string& why) {
  latch_.finish({kExitGuestCrashed, fmt::format("guest crashed: vCPU {}: {}", index, why)});
  stop_all();
}

}  // namespace heca::vmm

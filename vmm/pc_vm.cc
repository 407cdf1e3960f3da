#include "vmm/pc_vm.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string_view>

#include "firmware/acpi.h"
#include "firmware/test_guest_abi.h"
#include "io-aggregation/acpi_pm.h"
#include "io-aggregation/cmos_rtc.h"
#include "io-aggregation/debug_exit.h"
#include "io-aggregation/reset_control.h"
#include "io-aggregation/uart_8250.h"
#include "vmm/exit_codes.h"
#include "vmm/loader.h"

namespace heca::vmm {
namespace {

// KVM needs a TSS (3 pages) and an identity-map page below 4 GiB; both sit in the MMIO
// hole, clear of guest RAM, the IOAPIC and the LAPIC.
constexpr std::uint64_t kIdentityMapAddr = 0xFFFB'C000;
constexpr std::uint64_t kTssAddr = 0xFFFB'D000;
constexpr std::uint32_t kUartGsi = 4;

// Writes every byte to stdout exactly once, retrying short writes.
void write_stdout(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout is gone; the guest keeps running without a console
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
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

}  // namespace heca::vmm

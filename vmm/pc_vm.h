// The PC every heca VM is: KVM's VM with its in-kernel irqchip (and PIT where KVM allows it),
// and the legacy devices the I/O node serves on its bus.
#pragma once

#include <cstdint>
#include <functional>

#include "io-aggregation/io_bus.h"
#include "kernel/base/result.h"
#include "vmm/kvm/kvm_system.h"

namespace heca::vmm {

// KVM's identity map and TSS in the MMIO hole, in-kernel irqchip and, if this host's KVM allows
// it, the in-kernel PIT (refused: said once per process, the VM has no PIT).
[[nodiscard]] Result<VmFd> create_pc_vm(const KvmSystem& kvm);

// The devices of the I/O node on `bus`: the UART (stdout, IRQ 4 of `vm`), the debug exit, the
// ACPI PM block at kLinuxPmIoBase (vmm/loader.h), the CMOS RTC and the reset ports 0xCF9 and
// 0x64. Every way the guest ends reaches `on_exit`: a debug exit with its value, an ACPI S5
// power-off with 0, a reset request with kExitGuestReset (after a line on stderr).
// INVARIANT: `vm` outlives `bus`'s devices (the UART raises its interrupt through it).
[[nodiscard]] Status add_io_devices(io::IoBus& bus, VmFd& vm,
                                    std::function<void(std::uint32_t)> on_exit,
                                    std::function<void(std::uint32_t)> on_event);

}  // namespace heca::vmm

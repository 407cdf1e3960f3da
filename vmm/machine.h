// Machine: one single-node heca VM: KVM handles, guest RAM, devices on the I/O bus and
// one thread per vCPU, from boot plan to the guest's exit code.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io-aggregation/io_bus.h"
#include "kernel/base/result.h"
#include "vmm/ap_park_waker.h"
#include "vmm/bus_vm_ops.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/kvm_system.h"
#include "vmm/loader.h"
#include "vmm/stop_latch.h"
#include "vmm/control/control_protocol.h"
#include "vmm/vcpu.h"
#include "vmm/vm_stats.h"

namespace heca::vmm {

// heca's own exit codes (README "Exit codes"); other values are the guest's debug-exit code.
inline constexpr int kExitTimeout = 124;
inline constexpr int kExitVmFailure = 1;
// A vCPU of the guest stopped for good on some node: a triple fault (shutdown), a KVM internal
// error or a failed entry. Every node of the guest stops with it.
inline constexpr int kExitGuestCrashed = 123;
// The guest asked for a reset (port 0xCF9 or the i8042's 0xFE); heca does not restart guests.
inline constexpr int kExitGuestReset = 125;
// The guest was stopped through the control socket (`heca ctl SOCKET stop`).
inline constexpr int kExitStoppedByControl = 122;

struct MachineConfig {
  std::uint32_t vcpu_count = 1;
  std::uint64_t memory_bytes = 0;
  std::string cmdline;
  GuestImage image;
  std::vector<firmware::GuestWrite> extra_writes;  // loaded after the boot plan (e.g. a litmus blob)
  bool append_tsc_khz = false;                  // test-guest ABI: " tsc_khz=<vCPU 0's TSC kHz>"
  std::chrono::steady_clock::time_point start;  // events are timestamped relative to this
  std::chrono::duration<double> timeout{0};     // 0: wait for the guest forever
};

// The VM every heca node creates: KVM's identity map and TSS in the MMIO hole, in-kernel irqchip
// and, if this host's KVM allows it, the in-kernel PIT (refused: logged once, the VM has no PIT).
[[nodiscard]] Result<VmFd> create_pc_vm(const KvmSystem& kvm);
// The devices of the I/O node on `bus`: the UART (stdout, IRQ 4 of `vm`), the debug exit, the
// ACPI PM block at kLinuxPmIoBase (vmm/loader.h), the CMOS RTC and the reset ports 0xCF9 and
// 0x64. Every way the guest ends reaches `on_exit`: a debug exit with its value, an ACPI S5
// power-off with 0, a reset request with kExitGuestReset (after a line on stderr).
[[nodiscard]] Status add_io_devices(io::IoBus& bus, VmFd& vm,
                                    std::function<void(std::uint32_t)> on_exit,
                                    std::function<void(std::uint32_t)> on_event);

// THREADS: create() and run() on the VMM (main) thread; devices call back on vCPU threads; the
// ControlTarget methods run on the control server's thread.
// LOCKING: no lock of its own: the control plane reads atomics (started_, paused_, each vCPU's
// state and counters) and the latch (its mutex); vcpus_ is fixed before a control server runs.
class Machine final : public control::ControlTarget {
 public:
  // Validates the configuration (input errors come first and need no /dev/kvm), then
  // builds the VM, loads the guest and prepares every vCPU.
  [[nodiscard]] static Result<std::unique_ptr<Machine>> create(const MachineConfig& config);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Runs every vCPU until the guest exits, a vCPU fails or the timeout passes.
  [[nodiscard]] VmOutcome run();
  // Guest RAM [gpa, gpa + length) as it is now (engine view); for reading results after run().
  [[nodiscard]] Result<std::span<const std::uint8_t>> read_guest(std::uint64_t gpa, std::uint64_t length) const;
  // The counters now; `--stats` prints stats_lines(stats_report()) at exit.
  [[nodiscard]] MachineStats stats_report() const;

  // The control plane (vmm/control/README.md): node 0 with every role.
  [[nodiscard]] Result<nlohmann::json> status() override;
  [[nodiscard]] Result<nlohmann::json> stats() override;
  [[nodiscard]] Status pause() override;
  [[nodiscard]] Status resume() override;
  // Ends the guest with kExitStoppedByControl through the stop latch.
  [[nodiscard]] Status stop() override;

 private:
  Machine(const MachineConfig& config, KvmSystem kvm, VmFd vm, GuestMemory memory);
  [[nodiscard]] Status add_devices();
  [[nodiscard]] Status create_vcpus();
  [[nodiscard]] Status boot(std::span<const kvm_cpuid_entry2> supported_cpuid);
  void stop_all();
  void on_guest_exit(std::uint32_t code);
  void on_guest_event(std::uint32_t event) const;
  void on_vcpu_fatal(std::uint32_t index, const std::string& why);

  MachineConfig config_;
  KvmSystem kvm_;
  VmFd vm_;
  GuestMemory memory_;
  io::IoBus bus_;
  BusVmOps ops_{bus_};
  StopLatch latch_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;  // INVARIANT: fixed once run() starts
  std::shared_ptr<ApParkWaker> park_waker_;   // with the wakeup mailbox and APs only
  std::atomic<bool> started_{false};          // run() has started the vCPUs
  std::atomic<bool> paused_{false};           // the control plane holds the vCPUs
};

}  // namespace heca::vmm

// Vcpu: one guest vCPU and the thread that runs it, as an explicit Running/Paused/Stopped
// state machine. Exits go up through VmOps; fatal exits are reported, never handled here.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "vmm/kvm/vcpu_fd.h"
#include "vmm/vcpu_exit.h"
#include "vmm/vm_ops.h"

namespace heca::vmm {

enum class VcpuState : std::uint8_t { kRunning, kPaused, kStopped };
enum class EmulationResult : std::uint8_t { kHandled, kInterrupted, kStopped };

using ExitCounts = std::array<std::uint64_t, kExitKindCount>;

// THREADS: set-up (fd(), start()) happens on the VMM thread before the vCPU runs. After
// start(), pause()/resume()/stop() may be called from any thread, including vCPU threads.
// join() is for the VMM thread. The fatal handler runs on this vCPU's thread.
// LOCKING: mu_ guards thread_ (kick vs join) and pairs with resumed_ for Paused.
class Vcpu {
 public:
  // Called once when the vCPU stops itself because the guest cannot continue.
  using FatalHandler = std::function<void(std::uint32_t index, const std::string& why)>;

  Vcpu(std::uint32_t index, VcpuFd fd, VmOps& ops, FatalHandler on_fatal);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  [[nodiscard]] std::uint32_t index() const { return index_; }
  // For set-up before start() only.
  [[nodiscard]] VcpuFd& fd() { return fd_; }

  void start();
  void pause();
  void resume();
  void stop();
  void join();
  // Whether no thread runs this vCPU (not started, or returned: join() then does not block). A
  // thread blocked in the host kernel on a guest page that no node serves any more never returns.
  [[nodiscard]] bool has_exited() const { return exited_.load(); }
  // Makes a halted vCPU runnable again (KVM_MP_STATE_RUNNABLE, set on its own thread after a
  // kick), so it goes on after its HLT; a running vCPU only takes one extra exit. Any thread.
  void rouse();

  [[nodiscard]] VcpuState state() const { return state_.load(); }
  // For people and the control plane: "created" (not started), "running", "pausing" (asked to
  // pause, still inside KVM_RUN), "paused" (held by its thread), "stopping", "stopped" (its
  // thread returned). Any thread; a snapshot of atomics.
  [[nodiscard]] std::string_view describe_state() const;
  [[nodiscard]] ExitCounts exit_counts() const;
  // "vcpu 0 exits: io=12 interrupted=1 ..." (non-zero counters only).
  [[nodiscard]] std::string stats_line() const;

 private:
  void thread_main();
  [[nodiscard]] EmulationResult run_emulation();
  [[nodiscard]] EmulationResult handle_exit(const VcpuExit& exit);
  [[nodiscard]] EmulationResult fatal(const std::string& why);
  void dispatch_io(const VcpuExit& exit);
  void dispatch_mmio(const VcpuExit& exit);
  void wait_while_paused();
  void set_state_and_kick(VcpuState state);
  void count(ExitKind kind);

  const std::uint32_t index_;
  VcpuFd fd_;
  VmOps& ops_;
  const FatalHandler on_fatal_;
  std::atomic<VcpuState> state_{VcpuState::kRunning};
  std::atomic<bool> rouse_requested_{false};
  std::atomic<bool> exited_{true};  // no thread running (not started, or returned)
  std::atomic<bool> started_{false};
  std::atomic<bool> held_{false};  // the thread waits in wait_while_paused()
  std::array<std::atomic<std::uint64_t>, kExitKindCount> counts_{};
  std::mutex mu_;
  std::condition_variable resumed_;
  std::thread thread_;  // GUARDED_BY(mu_)
};

// Installs the no-op kick signal handler (without SA_RESTART) once per process.
void install_kick_signal_handler();

}  // namespace heca::vmm

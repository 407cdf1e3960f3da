#include "vmm/vcpu.h"

#include <fmt/format.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <mutex>

#include "kernel/base/check.h"
#include "vmm/vm_stats.h"

namespace heca::vmm {
namespace {

// The kick signal only needs to interrupt KVM_RUN; the handler itself does nothing.
const int kKickSignal = SIGUSR1;

void kick_handler(int /*signal*/) {}

std::string internal_error_name(std::uint64_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
      return "instruction emulation failed";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      return "event delivery failed";
    default:
      return fmt::format("suberror {}", suberror);
  }
}

}  // namespace

void install_kick_signal_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = kick_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    HECA_CHECK(::sigaction(kKickSignal, &action, nullptr) == 0);
  });
}

Vcpu::Vcpu(std::uint32_t index, VcpuFd fd, VmOps& ops, FatalHandler on_fatal)
    : index_(index), fd_(std::move(fd)), ops_(ops), on_fatal_(std::move(on_fatal)) {}

Vcpu::~Vcpu() {
  stop();
  join();
}

void Vcpu::start() {
  install_kick_signal_handler();
  const std::lock_guard lock(mu_);
  HECA_CHECK(!thread_.joinable());
  exited_.store(false);
  started_.store(true);
  thread_ = std::thread([this] {
    thread_main();
    exited_.store(true);
  });
}

void Vcpu::pause() {
  set_state_and_kick(VcpuState::kPaused);
}
void Vcpu::resume() {
  set_state_and_kick(VcpuState::kRunning);
}
void Vcpu::stop() {
  set_state_and_kick(VcpuState::kStopped);
}

void Vcpu::rouse() {
  const std::lock_guard lock(mu_);
  rouse_requested_.store(true);
  fd_.set_immediate_exit(true);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    ::pthread_kill(thread_.native_handle(), kKickSignal);
  }
}

void Vcpu::join() {
  std::thread thread;
  {
    const std::lock_guard lock(mu_);
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

void Vcpu::set_state_and_kick(VcpuState state) {
  const std::lock_guard lock(mu_);
  // INVARIANT: Stopped is final; a late pause()/resume() must not revive the vCPU.
  VcpuState current = state_.load();
  while (current != VcpuState::kStopped && !state_.compare_exchange_weak(current, state)) {
  }
  // Ordering: state first, then immediate_exit, then the signal. A thread that sees the
  // EINTR therefore also sees the new state.
  fd_.set_immediate_exit(true);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    ::pthread_kill(thread_.native_handle(), kKickSignal);
  }
  resumed_.notify_all();
}

void Vcpu::thread_main() {
  // "vcpu3" in ps, top, gdb and /proc/PID/task/TID/comm.
  (void)::pthread_setname_np(::pthread_self(), fmt::format("vcpu{}", index_).c_str());
  while (true) {
    switch (state_.load()) {
      case VcpuState::kStopped:
        return;
      case VcpuState::kPaused:
        wait_while_paused();
        continue;
      case VcpuState::kRunning:
        break;
    }
    const EmulationResult result = run_emulation();
    if (result == EmulationResult::kInterrupted) fd_.set_immediate_exit(false);
    if (rouse_requested_.exchange(false)) {
      if (auto s = fd_.set_mp_state(KVM_MP_STATE_RUNNABLE); !s) {
        if (fatal("making the vCPU runnable: " + s.error().message()) ==
            EmulationResult::kStopped) {
          state_.store(VcpuState::kStopped);
        }
      }
    }
    if (result == EmulationResult::kStopped) state_.store(VcpuState::kStopped);
  }
}

void Vcpu::wait_while_paused() {
  std::unique_lock lock(mu_);
  held_.store(true);
  resumed_.wait(lock, [this] { return state_.load() != VcpuState::kPaused; });
  held_.store(false);
}

std::string_view Vcpu::describe_state() const {
  if (!started_.load()) return "created";
  if (exited_.load()) return "stopped";
  switch (state_.load()) {
    case VcpuState::kRunning:
      return "running";
    case VcpuState::kPaused:
      return held_.load() ? "paused" : "pausing";
    case VcpuState::kStopped:
      return "stopping";
  }
  return "unknown";
}

EmulationResult Vcpu::run_emulation() {
  if (auto ran = fd_.run(); !ran) {
    if (ran.error().code == EINTR) {
      count(ExitKind::kInterrupted);
      return EmulationResult::kInterrupted;
    }
    if (ran.error().code == EAGAIN) {
      count(ExitKind::kRetry);
      return EmulationResult::kHandled;
    }
    return fatal(ran.error().message());
  }
  const VcpuExit exit = decode_exit(fd_.run_page());
  count(exit.kind);
  return handle_exit(exit);
}

EmulationResult Vcpu::handle_exit(const VcpuExit& exit) {
  switch (exit.kind) {
    case ExitKind::kIo:
      dispatch_io(exit);
      return EmulationResult::kHandled;
    case ExitKind::kMmio:
      dispatch_mmio(exit);
      return EmulationResult::kHandled;
    case ExitKind::kHlt:  // the in-kernel LAPIC normally handles HLT; just re-enter
      return EmulationResult::kHandled;
    case ExitKind::kInterrupted:
      return EmulationResult::kInterrupted;
    case ExitKind::kShutdown:
      return fatal("guest shut down (triple fault)");
    case ExitKind::kFailEntry:
      return fatal(fmt::format("KVM_RUN: entry failed, reason {:#x}", exit.detail));
    case ExitKind::kInternalError:
      return fatal(fmt::format("KVM_RUN: internal error ({})", internal_error_name(exit.detail)));
    case ExitKind::kSystemEvent:
      return fatal(fmt::format("guest system event {}", exit.detail));
    case ExitKind::kRetry:
    case ExitKind::kUnknown:
    case ExitKind::kCount:
      break;
  }
  return fatal(fmt::format("KVM_RUN: unhandled exit reason {}", exit.detail));
}

void Vcpu::dispatch_io(const VcpuExit& exit) {
  const auto port = static_cast<std::uint16_t>(exit.addr);
  for (std::uint32_t i = 0; i < exit.count; ++i) {
    const auto chunk = exit.data.subspan(std::size_t{i} * exit.size, exit.size);
    if (exit.is_write) {
      ops_.pio_write(port, chunk);
    } else {
      ops_.pio_read(port, chunk);
    }
  }
}

void Vcpu::dispatch_mmio(const VcpuExit& exit) {
  if (exit.is_write) {
    ops_.mmio_write(exit.addr, exit.data);
  } else {
    ops_.mmio_read(exit.addr, exit.data);
  }
}

EmulationResult Vcpu::fatal(const std::string& why) {
  const auto regs = fd_.get_regs();
  const std::string where = regs ? fmt::format(" at rip {:#x}", regs->rip) : std::string();
  if (on_fatal_) on_fatal_(index_, why + where);
  return EmulationResult::kStopped;
}

void Vcpu::count(ExitKind kind) {
  counts_[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
}

ExitCounts Vcpu::exit_counts() const {
  ExitCounts counts{};
  for (std::size_t i = 0; i < kExitKindCount; ++i) counts[i] = counts_[i].load();
  return counts;
}

std::string Vcpu::stats_line() const {
  return vmm::stats_line(exit_stats_of(*this));
}

}  // namespace heca::vmm

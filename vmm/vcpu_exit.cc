#include "vmm/vcpu_exit.h"

#include <linux/kvm.h>

namespace heca::vmm {
namespace {

VcpuExit decode_io(const kvm_run& run, std::span<std::uint8_t> run_page) {
  VcpuExit exit{.kind = ExitKind::kIo,
                .addr = run.io.port,
                .is_write = run.io.direction == KVM_EXIT_IO_OUT,
                .size = run.io.size,
                .count = run.io.count};
  const std::uint64_t length = std::uint64_t{run.io.size} * run.io.count;
  if (run.io.data_offset > run_page.size() || length > run_page.size() - run.io.data_offset) {
    return {.kind = ExitKind::kInternalError, .detail = KVM_EXIT_IO};
  }
  exit.data = run_page.subspan(run.io.data_offset, length);
  return exit;
}

VcpuExit decode_mmio(kvm_run& run) {
  const std::uint32_t length = run.mmio.len <= sizeof(run.mmio.data) ? run.mmio.len : 0;
  return {.kind = ExitKind::kMmio,
          .addr = run.mmio.phys_addr,
          .is_write = run.mmio.is_write != 0,
          .size = length,
          .count = 1,
          .data = std::span<std::uint8_t>(run.mmio.data, length)};
}

}  // namespace

std::string_view exit_kind_name(ExitKind kind) {
  static constexpr std::array<std::string_view, kExitKindCount> kNames = {
      "io",           "mmio",        "hlt",   "shutdown", "fail_entry", "internal_error",
      "system_event", "interrupted", "retry", "unknown"};
  return kNames[static_cast<std::size_t>(kind)];
}

VcpuExit decode_exit(std::span<std::uint8_t> run_page) {
  auto& run = *reinterpret_cast<kvm_run*>(run_page.data());
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return decode_io(run, run_page);
    case KVM_EXIT_MMIO:
      return decode_mmio(run);
    case KVM_EXIT_HLT:
      return {.kind = ExitKind::kHlt};
    case KVM_EXIT_SHUTDOWN:
      return {.kind = ExitKind::kShutdown};
    case KVM_EXIT_FAIL_ENTRY:
      return {.kind = ExitKind::kFailEntry, .detail = run.fail_entry.hardware_entry_failure_reason};
    case KVM_EXIT_INTERNAL_ERROR:
      return {.kind = ExitKind::kInternalError, .detail = run.internal.suberror};
    case KVM_EXIT_SYSTEM_EVENT:
      return {.kind = ExitKind::kSystemEvent, .detail = run.system_event.type};
    case KVM_EXIT_INTR:
      return {.kind = ExitKind::kInterrupted};
    default:
      return {.kind = ExitKind::kUnknown, .detail = run.exit_reason};
  }
}

}  // namespace heca::vmm

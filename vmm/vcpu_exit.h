// VcpuExit: one KVM exit decoded from the kvm_run page into plain fields.
// decode_exit() is the only place that reads exit data out of kvm_run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace heca::vmm {

enum class ExitKind : std::uint8_t {
  kIo,
  kMmio,
  kHlt,
  kShutdown,       // triple fault
  kFailEntry,      // KVM could not enter the guest
  kInternalError,  // KVM could not emulate something
  kSystemEvent,    // guest asked for reset/shutdown (PSCI-style, or crash)
  kInterrupted,    // KVM_RUN returned EINTR, or KVM_EXIT_INTR
  kRetry,          // KVM_RUN returned EAGAIN (an AP's first run after INIT)
  kUnknown,
  kCount,
};
inline constexpr std::size_t kExitKindCount = static_cast<std::size_t>(ExitKind::kCount);

[[nodiscard]] std::string_view exit_kind_name(ExitKind kind);

struct VcpuExit {
  ExitKind kind = ExitKind::kUnknown;
  std::uint64_t addr = 0;        // kIo: port; kMmio: guest-physical address
  bool is_write = false;         // kIo, kMmio
  std::uint32_t size = 0;        // kIo: bytes per access; kMmio: access length
  std::uint32_t count = 0;       // kIo: repetitions (string I/O); kMmio: 1
  std::span<std::uint8_t> data;  // kIo: size * count bytes; kMmio: size bytes (in kvm_run)
  std::uint64_t detail = 0;      // raw exit reason, entry-failure reason, suberror or event type
};

// Decodes the exit left in `run_page` (the whole kvm_run mapping). PIO data that would lie
// outside the page decodes as kInternalError, never as an out-of-bounds span.
[[nodiscard]] VcpuExit decode_exit(std::span<std::uint8_t> run_page);

}  // namespace heca::vmm

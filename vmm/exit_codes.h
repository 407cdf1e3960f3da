// heca's own process exit codes, one table for every command (README "Exit codes"). Any other
// value a guest run returns is the guest's own debug-exit code.
#pragma once

namespace heca::vmm {

// A lost node, a broken link, a VM that could not be built; with --litmus, a forbidden outcome.
inline constexpr int kExitVmFailure = 1;
// Bad input: options, guest description, image, litmus test ("heca: error: ...").
inline constexpr int kExitUsage = 2;
// The guest was stopped through the control socket (`heca ctl SOCKET stop`).
inline constexpr int kExitStoppedByControl = 122;
// A vCPU of the guest stopped for good on some node: a triple fault (shutdown), a KVM internal
// error or a failed entry. Every node of the guest stops with it.
inline constexpr int kExitGuestCrashed = 123;
inline constexpr int kExitTimeout = 124;
// The guest asked for a reset (port 0xCF9 or the i8042's 0xFE); heca does not restart guests.
inline constexpr int kExitGuestReset = 125;

}  // namespace heca::vmm

// Owner-side delivery of interrupts that a proxy on another node reported: the forwarded
// vector reaches the real vCPU through its in-kernel LAPIC, as if sent by a local vCPU.
#pragma once

#include <cstdint>

#include "kernel/base/result.h"
#include "vmm/kvm/vm_fd.h"

namespace heca::vmm::proxy {

// MSI data fields (Intel SDM 11.11.2): delivery mode in bits 8-10, level in bit 14.
inline constexpr std::uint32_t kMsiDeliveryNmi = 4u << 8;
inline constexpr std::uint32_t kMsiDeliveryInit = 5u << 8;
inline constexpr std::uint32_t kMsiDeliveryStartup = 6u << 8;
inline constexpr std::uint32_t kMsiLevelAssert = 1u << 14;

// A fixed, edge-triggered interrupt `vector` to physical APIC id `apic_id`.
[[nodiscard]] Status inject_fixed_ipi(VmFd& vm, std::uint32_t apic_id, std::uint8_t vector);
[[nodiscard]] Status inject_nmi(VmFd& vm, std::uint32_t apic_id);
// INIT: the vCPU resets and waits for SIPI (KVM_MP_STATE_INIT_RECEIVED).
[[nodiscard]] Status inject_init(VmFd& vm, std::uint32_t apic_id);
// SIPI: a vCPU in INIT_RECEIVED starts in real mode at vector << 12; otherwise ignored.
[[nodiscard]] Status inject_sipi(VmFd& vm, std::uint32_t apic_id, std::uint8_t vector);
// INIT then SIPI, in that order (KVM accepts them in that order too).
[[nodiscard]] Status inject_init_sipi(VmFd& vm, std::uint32_t apic_id, std::uint8_t vector);

}  // namespace heca::vmm::proxy

// VmFd: the move-only owner of one KVM VM: memslots, the in-kernel irqchip, interrupt lines.
// It creates the VM's vCPUs; device models never see it, they raise lines through callbacks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/base/fd.h"
#include "kernel/base/result.h"
#include "vmm/kvm/vcpu_fd.h"

namespace heca::vmm {

// Thread-safety: every method is a single ioctl on the VM fd, which KVM serialises;
// irq_line() and signal_msi() are called from vCPU and device threads alike.
class VmFd {
 public:
  VmFd(Fd vm, std::size_t vcpu_mmap_size) : vm_(std::move(vm)), vcpu_mmap_size_(vcpu_mmap_size) {}

  // KVM_SET_TSS_ADDR: three pages KVM needs below 4 GiB, outside guest RAM.
  [[nodiscard]] Status set_tss_addr(std::uint64_t gpa);
  // KVM_SET_IDENTITY_MAP_ADDR: one page KVM needs below 4 GiB, outside guest RAM.
  [[nodiscard]] Status set_identity_map_addr(std::uint64_t gpa);
  // KVM_ENABLE_CAP(KVM_CAP_X2APIC_API, USE_32BIT_IDS | DISABLE_BROADCAST_QUIRK), then
  // KVM_CREATE_IRQCHIP: in-kernel PIC + IOAPIC + LAPICs. Must precede vCPU creation.
  [[nodiscard]] Status create_irqchip();
  // KVM_CREATE_PIT2 (flags 0): the in-kernel i8254 PIT on ports 0x40-0x43 (and the port 0x61
  // speaker gate), driving GSI 0. Must follow create_irqchip().
  [[nodiscard]] Status create_pit();
  // KVM_SET_USER_MEMORY_REGION: slot `slot` maps [gpa, gpa + size) to host memory `host`.
  [[nodiscard]] Status set_memory_region(std::uint32_t slot, std::uint64_t gpa, std::uint64_t size,
                                         void* host);
  // KVM_IRQ_LINE: drives a GSI of the in-kernel PIC/IOAPIC high or low.
  [[nodiscard]] Status irq_line(std::uint32_t gsi, bool level);
  // KVM_SIGNAL_MSI: a fixed-delivery MSI with `vector` to 32-bit APIC id `apic_id`.
  [[nodiscard]] Status signal_msi(std::uint32_t apic_id, std::uint8_t vector);
  // KVM_SIGNAL_MSI to 32-bit APIC id `apic_id` with MSI data `data` (vector, delivery mode
  // in bits 8-10, level in bit 14), e.g. for NMI, INIT and SIPI.
  [[nodiscard]] Status signal_msi_data(std::uint32_t apic_id, std::uint32_t data);
  // KVM_GET_IRQCHIP / KVM_SET_IRQCHIP of the in-kernel IOAPIC (KVM_IRQCHIP_IOAPIC). Setting
  // re-injects the pins whose bits are set in `irr`.
  [[nodiscard]] Result<kvm_ioapic_state> get_ioapic() const;
  [[nodiscard]] Status set_ioapic(const kvm_ioapic_state& state);
  // KVM_CREATE_VCPU with id `vcpu_id` (== its APIC id), and its kvm_run mapping.
  [[nodiscard]] Result<VcpuFd> create_vcpu(std::uint32_t vcpu_id);

 private:
  Fd vm_;
  std::size_t vcpu_mmap_size_ = 0;
};

}  // namespace heca::vmm

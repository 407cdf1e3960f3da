#include "vmm/kvm/vm_fd.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <string>

namespace heca::vmm {

Status VmFd::set_tss_addr(std::uint64_t gpa) {
  if (::ioctl(vm_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(gpa)) != 0) {
    return errno_error("KVM_SET_TSS_ADDR");
  }
  return {};
}

Status VmFd::set_identity_map_addr(std::uint64_t gpa) {
  const __u64 addr = gpa;
  if (::ioctl(vm_.get(), KVM_SET_IDENTITY_MAP_ADDR, &addr) != 0) {
    return errno_error("KVM_SET_IDENTITY_MAP_ADDR");
  }
  return {};
}

Status VmFd::create_irqchip() {
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_X2APIC_API;
  cap.args[0] = KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;
  if (::ioctl(vm_.get(), KVM_ENABLE_CAP, &cap) != 0) {
    return errno_error("KVM_ENABLE_CAP(KVM_CAP_X2APIC_API)");
  }
  if (::ioctl(vm_.get(), KVM_CREATE_IRQCHIP, 0) != 0) return errno_error("KVM_CREATE_IRQCHIP");
  return {};
}

Status VmFd::create_pit() {
  kvm_pit_config config{};
  config.flags = 0;
  if (::ioctl(vm_.get(), KVM_CREATE_PIT2, &config) != 0) return errno_error("KVM_CREATE_PIT2");
  return {};
}

Status VmFd::set_memory_region(std::uint32_t slot, std::uint64_t gpa, std::uint64_t size,
                               void* host) {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.guest_phys_addr = gpa;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<std::uint64_t>(host);
  if (::ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0) {
    return errno_error("KVM_SET_USER_MEMORY_REGION slot " + std::to_string(slot));
  }
  return {};
}

Result<kvm_ioapic_state> VmFd::get_ioapic() const {
  kvm_irqchip chip{};
  chip.chip_id = KVM_IRQCHIP_IOAPIC;
  if (::ioctl(vm_.get(), KVM_GET_IRQCHIP, &chip) != 0) {
    return errno_error("KVM_GET_IRQCHIP (IOAPIC)");
  }
  return chip.chip.ioapic;
}

Status VmFd::set_ioapic(const kvm_ioapic_state& state) {
  kvm_irqchip chip{};
  chip.chip_id = KVM_IRQCHIP_IOAPIC;
  chip.chip.ioapic = state;
  if (::ioctl(vm_.get(), KVM_SET_IRQCHIP, &chip) != 0) return errno_error("KVM_SET_IRQCHIP (IOAPIC)");
  return {};
}

Status VmFd::irq_line(std::uint32_t gsi, bool level) {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  if (::ioctl(vm_.get(), KVM_IRQ_LINE, &irq) != 0) {
    return errno_error("KVM_IRQ_LINE " + std::to_string(gsi));
  }
  return {};
}

Status VmFd::signal_msi(std::uint32_t apic_id, std::uint8_t vector) {
  // With KVM_X2APIC_API_USE_32BIT_IDS the upper 24 bits of the APIC id go in address_hi.
  kvm_msi msi{};
  msi.address_lo = 0xFEE0'0000u | ((apic_id & 0xFFu) << 12);
  msi.address_hi = apic_id & 0xFFFF'FF00u;
  msi.data = vector;
  if (::ioctl(vm_.get(), KVM_SIGNAL_MSI, &msi) < 0) {
    return errno_error("KVM_SIGNAL_MSI to APIC " + std::to_string(apic_id));
  }
  return {};
}

Status VmFd::signal_msi_data(std::uint32_t apic_id, std::uint32_t data) {
  kvm_msi msi{};
  msi.address_lo = 0xFEE0'0000u | ((apic_id & 0xFFu) << 12);
  msi.address_hi = apic_id & 0xFFFF'FF00u;
  msi.data = data;
  if (::ioctl(vm_.get(), KVM_SIGNAL_MSI, &msi) < 0) {
    return errno_error("KVM_SIGNAL_MSI data " + std::to_string(data) + " to APIC " +
                       std::to_string(apic_id));
  }
  return {};
}

Result<VcpuFd> VmFd::create_vcpu(std::uint32_t vcpu_id) {
  const std::string what = "KVM_CREATE_VCPU " + std::to_string(vcpu_id);
  Fd vcpu{::ioctl(vm_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(vcpu_id))};
  if (!vcpu) return errno_error(what);
  auto run =
      Mapping::map(vcpu_mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu.get(), 0, "kvm_run");
  if (!run) return wrap_error(run.error(), what);
  return VcpuFd(std::move(vcpu), std::move(*run));
}

}  // namespace heca::vmm

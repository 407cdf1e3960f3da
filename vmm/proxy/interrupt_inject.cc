#include "vmm/proxy/interrupt_inject.h"

namespace heca::vmm::proxy {

Status inject_fixed_ipi(VmFd& vm, std::uint32_t apic_id, std::uint8_t vector) {
  return vm.signal_msi(apic_id, vector);
}

Status inject_nmi(VmFd& vm, std::uint32_t apic_id) {
  return vm.signal_msi_data(apic_id, kMsiDeliveryNmi);
}

Status inject_init(VmFd& vm, std::uint32_t apic_id) {
  return vm.signal_msi_data(apic_id, kMsiDeliveryInit | kMsiLevelAssert);
}

Status inject_sipi(VmFd& vm, std::uint32_t apic_id, std::uint8_t vector) {
  return vm.signal_msi_data(apic_id, kMsiDeliveryStartup | vector);
}

Status inject_init_sipi(VmFd& vm, std::uint32_t apic_id, std::uint8_t vector) {
  if (auto s = inject_init(vm, apic_id); !s) return s;
  return inject_sipi(vm, apic_id, vector);
}

}  // namespace heca::vmm::proxy

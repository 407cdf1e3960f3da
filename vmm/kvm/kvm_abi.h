// The kernel's real layout for KVM structs that end in a flexible array, and their ioctl numbers.
// In C++, linux-libc-dev's __DECLARE_FLEX_ARRAY adds a 4-byte hole, which also changes _IOWR().
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace heca::vmm::kvm_abi {

// struct kvm_cpuid2 / struct kvm_msrs as the kernel lays them out: entries follow at offset 8.
struct ArrayHeader {
  std::uint32_t count = 0;
  std::uint32_t padding = 0;
};
static_assert(sizeof(ArrayHeader) == 8);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_msr_entry) == 16);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, ArrayHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, ArrayHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, ArrayHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, ArrayHeader);
inline constexpr unsigned long kSetDeviceAttr = _IOW(KVMIO, 0xe1, kvm_device_attr);
inline constexpr unsigned long kGetDeviceAttr = _IOW(KVMIO, 0xe2, kvm_device_attr);

}  // namespace heca::vmm::kvm_abi

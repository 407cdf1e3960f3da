#include "vmm/kvm/kvm_system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <string>

#include "vmm/kvm/kvm_abi.h"

namespace heca::vmm {

Result<KvmSystem> KvmSystem::open() {
  Fd kvm{::open("/dev/kvm", O_RDWR | O_CLOEXEC)};
  if (!kvm) return errno_error("open /dev/kvm");
  const int version = ::ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  if (version < 0) return errno_error("KVM_GET_API_VERSION");
  if (version != KVM_API_VERSION) {
    return make_error("KVM_GET_API_VERSION: got " + std::to_string(version) + ", need " +
                      std::to_string(KVM_API_VERSION));
  }
  return KvmSystem(std::move(kvm));
}

int KvmSystem::check_extension(long capability) const {
  const int r = ::ioctl(kvm_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

int KvmSystem::max_vcpus() const {
  const int max = check_extension(KVM_CAP_MAX_VCPUS);
  if (max > 0) return max;
  const int recommended = check_extension(KVM_CAP_NR_VCPUS);
  return recommended > 0 ? recommended : 4;
}

Result<std::size_t> KvmSystem::vcpu_mmap_size() const {
  const int size = ::ioctl(kvm_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0) return errno_error("KVM_GET_VCPU_MMAP_SIZE");
  return static_cast<std::size_t>(size);
}

Result<std::vector<kvm_cpuid_entry2>> KvmSystem::supported_cpuid() const {
  // kvm_cpuid2 ends in a flexible array; grow until KVM stops answering E2BIG.
  for (std::size_t capacity = 128; capacity <= 4096; capacity *= 2) {
    // INVARIANT: entries start right after the 8-byte header (kvm_abi.h); 40 is a multiple of 8.
    std::vector<std::uint64_t> storage(
        (sizeof(kvm_abi::ArrayHeader) + capacity * sizeof(kvm_cpuid_entry2)) / 8);
    auto* header = reinterpret_cast<kvm_abi::ArrayHeader*>(storage.data());
    header->count = static_cast<std::uint32_t>(capacity);
    if (::ioctl(kvm_.get(), kvm_abi::kGetSupportedCpuid, header) == 0) {
      const auto* entries = reinterpret_cast<const kvm_cpuid_entry2*>(header + 1);
      return std::vector<kvm_cpuid_entry2>(entries, entries + header->count);
    }
    if (errno != E2BIG) return errno_error("KVM_GET_SUPPORTED_CPUID");
  }
  return make_error("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

Result<VmFd> KvmSystem::create_vm() const {
  Fd vm{::ioctl(kvm_.get(), KVM_CREATE_VM, 0)};
  if (!vm) return errno_error("KVM_CREATE_VM");
  auto mmap_size = vcpu_mmap_size();
  if (!mmap_size) return std::unexpected(mmap_size.error());
  return VmFd(std::move(vm), *mmap_size);
}

}  // namespace heca::vmm

// KvmSystem: the move-only owner of /dev/kvm and the host-wide facts read from it.
// One per process; every VmFd is created from it.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <vector>

#include "kernel/base/fd.h"
#include "kernel/base/result.h"
#include "vmm/kvm/vm_fd.h"

namespace heca::vmm {

// Thread-safety: immutable after open(); const methods may be called from any thread.
class KvmSystem {
 public:
  // Opens /dev/kvm and checks KVM_GET_API_VERSION == KVM_API_VERSION.
  [[nodiscard]] static Result<KvmSystem> open();

  // KVM_CHECK_EXTENSION; 0 when the capability is absent.
  [[nodiscard]] int check_extension(long capability) const;
  // KVM_CAP_MAX_VCPUS (falling back to KVM_CAP_NR_VCPUS, as the API documents).
  [[nodiscard]] int max_vcpus() const;
  // KVM_GET_VCPU_MMAP_SIZE: the size of each vCPU's kvm_run mapping.
  [[nodiscard]] Result<std::size_t> vcpu_mmap_size() const;
  // KVM_GET_SUPPORTED_CPUID: every leaf this host's KVM can expose.
  [[nodiscard]] Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
  // KVM_CREATE_VM (default machine type).
  [[nodiscard]] Result<VmFd> create_vm() const;

 private:
  explicit KvmSystem(Fd kvm) : kvm_(std::move(kvm)) {}
  Fd kvm_;
};

}  // namespace heca::vmm

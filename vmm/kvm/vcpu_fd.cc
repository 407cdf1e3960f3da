#include "vmm/kvm/vcpu_fd.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <string>
#include <vector>

#include "vmm/kvm/kvm_abi.h"

namespace heca::vmm {
namespace {

// Issues a vCPU ioctl whose argument is a pointer; names the ioctl on failure.
template <class T>
Status vcpu_ioctl(int fd, unsigned long request, T* arg, const char* name) {
  if (::ioctl(fd, request, arg) < 0) return errno_error(name);
  return {};
}

// The kernel's struct kvm_msrs holding exactly one entry (see kvm_abi.h for why not kvm_msrs).
struct OneMsr {
  kvm_abi::ArrayHeader header{.count = 1};
  kvm_msr_entry entry{};
};
static_assert(sizeof(OneMsr) == sizeof(kvm_abi::ArrayHeader) + sizeof(kvm_msr_entry));

}  // namespace

Status VcpuFd::run() {
  if (::ioctl(vcpu_.get(), KVM_RUN, 0) < 0) return errno_error("KVM_RUN");
  return {};
}

void VcpuFd::set_immediate_exit(bool on) const {
  std::atomic_ref<std::uint8_t>(run_state().immediate_exit)
      .store(on ? 1 : 0, std::memory_order_seq_cst);
}

Result<kvm_regs> VcpuFd::get_regs() const {
  kvm_regs regs{};
  if (auto s = vcpu_ioctl(vcpu_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS"); !s) {
    return std::unexpected(s.error());
  }
  return regs;
}

Status VcpuFd::set_regs(const kvm_regs& regs) {
  return vcpu_ioctl(vcpu_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

Result<kvm_sregs> VcpuFd::get_sregs() const {
  kvm_sregs sregs{};
  if (auto s = vcpu_ioctl(vcpu_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS"); !s) {
    return std::unexpected(s.error());
  }
  return sregs;
}

Status VcpuFd::set_sregs(const kvm_sregs& sregs) {
  return vcpu_ioctl(vcpu_.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
}

Status VcpuFd::set_fpu(const kvm_fpu& fpu) {
  return vcpu_ioctl(vcpu_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

Status VcpuFd::set_cpuid(std::span<const kvm_cpuid_entry2> entries) {
  std::vector<std::uint64_t> storage(
      (sizeof(kvm_abi::ArrayHeader) + entries.size() * sizeof(kvm_cpuid_entry2)) / 8);
  auto* header = reinterpret_cast<kvm_abi::ArrayHeader*>(storage.data());
  header->count = static_cast<std::uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), reinterpret_cast<kvm_cpuid_entry2*>(header + 1));
  return vcpu_ioctl(vcpu_.get(), kvm_abi::kSetCpuid2, header, "KVM_SET_CPUID2");
}

Result<std::uint64_t> VcpuFd::get_msr(std::uint32_t index) const {
  OneMsr msrs{};
  msrs.entry.index = index;
  if (::ioctl(vcpu_.get(), kvm_abi::kGetMsrs, &msrs) != 1) {
    return errno_error("KVM_GET_MSRS " + std::to_string(index));
  }
  return msrs.entry.data;
}

Result<std::uint64_t> VcpuFd::get_tsc_offset() const {
  std::uint64_t offset = 0;
  kvm_device_attr attr{.flags = 0, .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
                       .addr = reinterpret_cast<std::uintptr_t>(&offset)};
  if (::ioctl(vcpu_.get(), kvm_abi::kGetDeviceAttr, &attr) != 0) {
    return errno_error("KVM_GET_DEVICE_ATTR (TSC offset)");
  }
  return offset;
}

Status VcpuFd::set_tsc_offset(std::uint64_t offset) {
  kvm_device_attr attr{.flags = 0, .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
                       .addr = reinterpret_cast<std::uintptr_t>(&offset)};
  if (::ioctl(vcpu_.get(), kvm_abi::kSetDeviceAttr, &attr) != 0) {
    return errno_error("KVM_SET_DEVICE_ATTR (TSC offset)");
  }
  return {};
}

Status VcpuFd::set_msr(std::uint32_t index, std::uint64_t value) {
  OneMsr msrs{};
  msrs.entry.index = index;
  msrs.entry.data = value;
  // KVM_SET_MSRS returns the number of MSRs set; 0 means KVM refused this one.
  if (::ioctl(vcpu_.get(), kvm_abi::kSetMsrs, &msrs) != 1) {
    return errno_error("KVM_SET_MSRS " + std::to_string(index));
  }
  return {};
}

Result<std::uint32_t> VcpuFd::get_mp_state() const {
  kvm_mp_state state{};
  if (auto s = vcpu_ioctl(vcpu_.get(), KVM_GET_MP_STATE, &state, "KVM_GET_MP_STATE"); !s) {
    return std::unexpected(s.error());
  }
  return state.mp_state;
}

Status VcpuFd::set_mp_state(std::uint32_t mp_state) {
  kvm_mp_state state{mp_state};
  return vcpu_ioctl(vcpu_.get(), KVM_SET_MP_STATE, &state, "KVM_SET_MP_STATE");
}

Result<kvm_vcpu_events> VcpuFd::get_vcpu_events() const {
  kvm_vcpu_events events{};
  if (auto s = vcpu_ioctl(vcpu_.get(), KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS"); !s) {
    return std::unexpected(s.error());
  }
  return events;
}

Status VcpuFd::set_vcpu_events(const kvm_vcpu_events& events) {
  return vcpu_ioctl(vcpu_.get(), KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS");
}

Result<std::uint32_t> VcpuFd::tsc_khz() const {
  const int khz = ::ioctl(vcpu_.get(), KVM_GET_TSC_KHZ, 0);
  if (khz <= 0) return errno_error("KVM_GET_TSC_KHZ");
  return static_cast<std::uint32_t>(khz);
}

}  // namespace heca::vmm

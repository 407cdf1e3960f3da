#include "vmm/vcpu_boot.h"

#include <string>

#include "firmware/ap_wakeup.h"
#include "firmware/guest_layout.h"
#include "firmware/long_mode.h"
#include "vmm/cpuid.h"

namespace heca::vmm {
namespace {

constexpr std::uint64_t kCr0Pe = 1ULL << 0;
constexpr std::uint64_t kCr0Mp = 1ULL << 1;
constexpr std::uint64_t kCr0Et = 1ULL << 4;
constexpr std::uint64_t kCr0Ne = 1ULL << 5;
constexpr std::uint64_t kCr0Pg = 1ULL << 31;
constexpr std::uint64_t kCr4Pae = 1ULL << 5;
constexpr std::uint64_t kEferLme = 1ULL << 8;
constexpr std::uint64_t kEferLma = 1ULL << 10;
constexpr std::uint64_t kRflagsReserved = 1ULL << 1;

kvm_segment segment_from_gdt(std::uint64_t entry, std::uint16_t selector) {
  const firmware::SegmentDescriptor d = firmware::decode_gdt_entry(entry);
  kvm_segment segment{};
  segment.base = d.base;
  segment.limit = d.limit;
  segment.selector = selector;
  segment.type = d.type;
  segment.present = d.present ? 1 : 0;
  segment.dpl = d.dpl0 ? 0 : 3;
  segment.db = d.db ? 1 : 0;
  segment.s = d.s ? 1 : 0;
  segment.l = d.l ? 1 : 0;
  segment.g = d.g ? 1 : 0;
  return segment;
}

Status set_cpuid(VcpuFd& vcpu, const VcpuBootConfig& config) {
  const CpuidPolicy policy{.apic_id = config.index,
                           .vcpu_count = config.vcpu_count,
                           .vcpus_span_nodes = config.vcpus_span_nodes,
                           .node = config.node,
                           .node_count = config.node_count,
                           .tsc_deadline = config.tsc_deadline};
  const auto entries = build_vcpu_cpuid(config.supported_cpuid, policy);
  return vcpu.set_cpuid(entries);
}

Status set_fpu(VcpuFd& vcpu) {
  kvm_fpu fpu{};
  fpu.fcw = 0x37F;     // x87 default: all exceptions masked, 64-bit precision
  fpu.mxcsr = 0x1F80;  // SSE default: all exceptions masked, round to nearest
  return vcpu.set_fpu(fpu);
}

Status enter_long_mode(VcpuFd& vcpu, const firmware::BootPlan& plan) {
  auto sregs = vcpu.get_sregs();
  if (!sregs) return std::unexpected(sregs.error());
  if (auto s = vcpu.set_sregs(long_mode_sregs(*sregs)); !s) return s;
  kvm_regs regs{};
  regs.rip = plan.entry_rip;
  regs.rsi = plan.boot_params_gpa;
  regs.rflags = kRflagsReserved;
  return vcpu.set_regs(regs);
}

// The AP wakeup firmware's state: its own GDT and page tables, which the guest OS never reuses.
Status enter_park_loop(VcpuFd& vcpu, const VcpuBootConfig& config, const firmware::BootPlan& plan) {
  auto sregs = vcpu.get_sregs();
  if (!sregs) return std::unexpected(sregs.error());
  const std::uint64_t cr3 = config.ap_park_cr3 != 0 ? config.ap_park_cr3 : firmware::ApWakeupLayout::kPml4;
  const kvm_sregs park = long_mode_sregs(*sregs, firmware::ApWakeupLayout::kGdt, cr3);
  if (auto s = vcpu.set_sregs(park); !s) return s;
  kvm_regs regs{};
  regs.rip = plan.ap_entry_rip;
  regs.rbx = config.index;  // the APIC id the park loop compares with the mailbox's
  regs.rflags = kRflagsReserved;
  if (auto s = vcpu.set_regs(regs); !s) return s;
  return vcpu.set_mp_state(KVM_MP_STATE_RUNNABLE);
}

}  // namespace

kvm_sregs long_mode_sregs(kvm_sregs sregs, std::uint64_t gdt_base, std::uint64_t cr3) {
  const auto gdt = firmware::build_boot_gdt();
  sregs.cs = segment_from_gdt(gdt[firmware::kBootCs / 8], firmware::kBootCs);
  const kvm_segment data = segment_from_gdt(gdt[firmware::kBootDs / 8], firmware::kBootDs);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.gdt.base = gdt_base;
  sregs.gdt.limit = static_cast<std::uint16_t>(gdt.size() * sizeof(gdt[0]) - 1);
  sregs.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Pg;
  sregs.cr3 = cr3;
  sregs.cr4 = kCr4Pae;
  sregs.efer = kEferLme | kEferLma;
  return sregs;
}

Status configure_vcpu(VcpuFd& vcpu, const VcpuBootConfig& config, const firmware::BootPlan& plan) {
  const std::string where = "vCPU " + std::to_string(config.index);
  if (auto s = set_cpuid(vcpu, config); !s) return wrap_error(s.error(), where);
  if (auto s = set_fpu(vcpu); !s) return wrap_error(s.error(), where);
  if (config.index == 0) {
    if (auto s = enter_long_mode(vcpu, plan); !s) return wrap_error(s.error(), where);
    return {};
  }
  if (plan.ap_entry_rip != 0 && !config.proxy) {
    if (auto s = enter_park_loop(vcpu, config, plan); !s) return wrap_error(s.error(), where);
    return {};
  }
  // APs wait in the in-kernel LAPIC for the guest's INIT-SIPI-SIPI.
  if (auto s = vcpu.set_mp_state(KVM_MP_STATE_UNINITIALIZED); !s) {
    return wrap_error(s.error(), where);
  }
  return {};
}

}  // namespace heca::vmm

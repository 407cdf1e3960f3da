// Loader: turns a guest image + RAM size into a checked firmware::BootPlan and writes it
// into guest memory through the engine view.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "firmware/boot_plan.h"
#include "kernel/base/result.h"
#include "vmm/guest_memory.h"

namespace heca::vmm {

using GuestImage = std::variant<firmware::FlatImage, firmware::LinuxImage>;

// First port of the ACPI PM block (PM1a event, control, timer) that Linux guests are told about.
inline constexpr std::uint16_t kLinuxPmIoBase = 0x600;

// Bytes [offset, offset + size) of guest RAM, counted in address order over the RAM ranges
// (the offsets of the memfd / coherent region, not guest-physical addresses).
struct RamSpan {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// One proximity domain of a NUMA guest: the vCPUs it runs and the RAM homed on it.
struct NumaNodeSpec {
  std::vector<std::uint32_t> vcpus;
  std::vector<RamSpan> ram;
};

struct LoadRequest {
  std::span<const firmware::RamRange> ram;
  std::uint32_t vcpu_count = 1;
  std::string cmdline;
  GuestImage image;
  std::span<const firmware::GuestWrite> extra_writes;  // e.g. a litmus blob; checked like the rest
  // Node i is proximity domain i; every vCPU on exactly one node. Empty: no SRAT/SLIT.
  std::vector<NumaNodeSpec> numa;
  firmware::ApStartup ap_startup = firmware::ApStartup::kByImage;
};

// plan_boot() for vcpu_count vCPUs (APIC id == index), in one package or on `numa` nodes, then a
// check that every write lies inside RAM, so a too-small --memory is reported before anything
// runs. Linux guests get an ACPI PM block at kLinuxPmIoBase.
[[nodiscard]] Result<firmware::BootPlan> plan_guest_boot(const LoadRequest& request);

// The guest-physical ranges of `span`, split where the RAM ranges are (around the MMIO hole).
// Errors: the span reaches past the end of RAM.
[[nodiscard]] Result<std::vector<firmware::RamRange>> ram_span_gpas(
    std::span<const firmware::RamRange> ram, const RamSpan& span);

// Writes every GuestWrite of `plan` into `memory`.
[[nodiscard]] Status load_boot_plan(GuestMemory& memory, const firmware::BootPlan& plan);

}  // namespace heca::vmm

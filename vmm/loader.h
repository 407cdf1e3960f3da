// Loader: turns a guest image + RAM size into a checked firmware::BootPlan and writes it
// into guest memory through the engine view.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "firmware/boot_plan.h"
#include "kernel/base/result.h"
#include "vmm/guest_memory.h"

namespace heca::vmm {

using GuestImage = std::variant<firmware::FlatImage, firmware::LinuxImage>;

struct LoadRequest {
  std::span<const firmware::RamRange> ram;
  std::uint32_t vcpu_count = 1;
  std::string cmdline;
  GuestImage image;
  std::span<const firmware::GuestWrite> extra_writes;  // e.g. a litmus blob; checked like the rest
};

// plan_boot() for one package of vcpu_count vCPUs (APIC id == index), then a check that
// every write lies inside RAM, so a too-small --memory is reported before anything runs.
[[nodiscard]] Result<firmware::BootPlan> plan_guest_boot(const LoadRequest& request);

// Writes every GuestWrite of `plan` into `memory`.
[[nodiscard]] Status load_boot_plan(GuestMemory& memory, const firmware::BootPlan& plan);

}  // namespace heca::vmm

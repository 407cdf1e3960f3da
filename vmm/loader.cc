#include "vmm/loader.h"

#include <fmt/format.h>

namespace heca::vmm {
namespace {

firmware::AcpiConfig one_package(std::uint32_t vcpu_count) {
  firmware::AcpiConfig acpi;
  for (std::uint32_t i = 0; i < vcpu_count; ++i) acpi.cpus.push_back({.apic_id = i});
  return acpi;
}

std::uint64_t ram_bytes(std::span<const firmware::RamRange> ram) {
  std::uint64_t total = 0;
  for (const auto& range : ram) total += range.size;
  return total;
}

}  // namespace

Result<firmware::BootPlan> plan_guest_boot(const LoadRequest& request) {
  firmware::BootRequest boot{
      .ram = {request.ram.begin(), request.ram.end()},
      .acpi = one_package(request.vcpu_count),
      .cmdline = request.cmdline,
      .image = request.image,
  };
  auto plan = firmware::plan_boot(boot);
  if (!plan) return std::unexpected(plan.error());
  plan->writes.insert(plan->writes.end(), request.extra_writes.begin(), request.extra_writes.end());
  for (const auto& write : plan->writes) {
    if (!ram_offset(request.ram, write.gpa, write.bytes.size())) {
      return make_error(
          fmt::format("memory too small: {} bytes of RAM cannot hold {} boot bytes at {:#x}",
                      ram_bytes(request.ram), write.bytes.size(), write.gpa));
    }
  }
  return plan;
}

Status load_boot_plan(GuestMemory& memory, const firmware::BootPlan& plan) {
  for (const auto& write : plan.writes) {
    if (auto s = memory.write(write.gpa, write.bytes); !s) {
      return wrap_error(s.error(), "loading the guest");
    }
  }
  return {};
}

}  // namespace heca::vmm

#include "vmm/loader.h"

#include <fmt/format.h>

#include <algorithm>

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

// The node of each vCPU, by index; every vCPU must be on exactly one node.
Result<std::vector<std::uint32_t>> vcpu_nodes(const LoadRequest& request) {
  constexpr std::uint32_t kNone = UINT32_MAX;
  std::vector<std::uint32_t> node_of(request.vcpu_count, kNone);
  for (std::uint32_t node = 0; node < request.numa.size(); ++node) {
    for (const std::uint32_t vcpu : request.numa[node].vcpus) {
      if (vcpu >= request.vcpu_count) {
        return make_error(fmt::format("NUMA node {} lists vCPU {}, but there are {}", node, vcpu,
                                      request.vcpu_count));
      }
      if (node_of[vcpu] != kNone)
        return make_error(
            fmt::format("vCPU {} is on NUMA nodes {} and {}", vcpu, node_of[vcpu], node));
      node_of[vcpu] = node;
    }
  }
  const auto missing = std::ranges::find(node_of, kNone);
  if (missing != node_of.end())
    return make_error(fmt::format("vCPU {} is on no NUMA node", missing - node_of.begin()));
  return node_of;
}

Result<firmware::AcpiConfig> numa_acpi(const LoadRequest& request) {
  auto node_of = vcpu_nodes(request);
  if (!node_of) return std::unexpected(node_of.error());
  firmware::AcpiConfig acpi;
  for (std::uint32_t i = 0; i < request.vcpu_count; ++i)
    acpi.cpus.push_back({.apic_id = i, .numa_node = (*node_of)[i]});
  for (std::uint32_t node = 0; node < request.numa.size(); ++node) {
    firmware::AcpiNumaNode& out = acpi.numa_nodes.emplace_back(firmware::AcpiNumaNode{.id = node});
    for (const RamSpan& span : request.numa[node].ram) {
      auto gpas = ram_span_gpas(request.ram, span);
      if (!gpas) return wrap_error(gpas.error(), fmt::format("NUMA node {}", node));
      out.memory.insert(out.memory.end(), gpas->begin(), gpas->end());
    }
  }
  return acpi;
}

Result<firmware::AcpiConfig> acpi_config(const LoadRequest& request) {
  auto acpi = request.numa.empty() ? Result<firmware::AcpiConfig>(one_package(request.vcpu_count))
                                   : numa_acpi(request);
  if (!acpi) return acpi;
  if (std::holds_alternative<firmware::LinuxImage>(request.image))
    acpi->pm_io_base = kLinuxPmIoBase;
  return acpi;
}

}  // namespace

Result<std::vector<firmware::RamRange>> ram_span_gpas(std::span<const firmware::RamRange> ram,
                                                      const RamSpan& span) {
  const auto past_the_end = [&] {
    return make_error(fmt::format("RAM offsets {:#x}+{:#x} reach past the {:#x} bytes of RAM",
                                  span.offset, span.size, ram_bytes(ram)));
  };
  if (span.offset + span.size < span.offset) return past_the_end();
  std::vector<firmware::RamRange> gpas;
  std::uint64_t base = 0;  // RAM offset of the current range
  std::uint64_t found = 0;
  for (const auto& range : ram) {
    const std::uint64_t lo = std::max(span.offset, base);
    const std::uint64_t hi = std::min(span.offset + span.size, base + range.size);
    if (lo < hi) {
      gpas.push_back({range.gpa + (lo - base), hi - lo});
      found += hi - lo;
    }
    base += range.size;
  }
  if (found != span.size) return past_the_end();
  return gpas;
}

Result<firmware::BootPlan> plan_guest_boot(const LoadRequest& request) {
  auto acpi = acpi_config(request);
  if (!acpi) return std::unexpected(acpi.error());
  firmware::BootRequest boot{
      .ram = {request.ram.begin(), request.ram.end()},
      .acpi = std::move(*acpi),
      .cmdline = request.cmdline,
      .image = request.image,
      .ap_startup = request.ap_startup,
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

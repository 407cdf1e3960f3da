#include "vmm/node/guest_clock.h"

#include <fmt/format.h>

namespace heca::vmm::node {

std::uint64_t announced_tsc_khz(const cluster::GuestDescription& description,
                                std::uint64_t host_tsc_khz) {
  return host_tsc_khz * description.time_dilation;
}

std::string clock_cmdline(const cluster::GuestDescription& description, bool test_guest_abi,
                          bool vcpus_span_nodes, std::uint64_t host_tsc_khz) {
  const std::uint64_t khz = announced_tsc_khz(description, host_tsc_khz);
  if (test_guest_abi) return fmt::format(" tsc_khz={}", khz);
  if (description.kind == cluster::GuestKind::kLinux &&
      (vcpus_span_nodes || description.time_dilation != 1)) {
    return fmt::format(" tsc_early_khz={} tsc=reliable", khz);
  }
  return {};
}

}  // namespace heca::vmm::node

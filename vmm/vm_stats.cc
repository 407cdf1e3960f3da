#include "vmm/vm_stats.h"

#include <fmt/format.h>

namespace heca::vmm {

using nlohmann::json;

VcpuExitStats exit_stats_of(const Vcpu& vcpu) {
  return {.index = vcpu.index(), .exits = vcpu.exit_counts()};
}

std::string stats_line(const VcpuExitStats& stats) {
  std::string line = fmt::format("vcpu {} exits:", stats.index);
  for (std::size_t i = 0; i < kExitKindCount; ++i) {
    if (stats.exits[i] == 0) continue;
    line += fmt::format(" {}={}", exit_kind_name(static_cast<ExitKind>(i)), stats.exits[i]);
  }
  return line;
}

json to_json(const VcpuExitStats& stats) {
  json exits = json::object();
  for (std::size_t i = 0; i < kExitKindCount; ++i) {
    exits[std::string(exit_kind_name(static_cast<ExitKind>(i)))] = stats.exits[i];
  }
  return {{"index", stats.index}, {"exits", std::move(exits)}};
}

std::string stats_line(const UnclaimedIoStats& io) {
  return fmt::format("unclaimed io: pio_reads={} pio_writes={} mmio_reads={} mmio_writes={}",
                     io.pio_reads, io.pio_writes, io.mmio_reads, io.mmio_writes);
}

json to_json(const UnclaimedIoStats& io) {
  return {{"pio_reads", io.pio_reads},
          {"pio_writes", io.pio_writes},
          {"mmio_reads", io.mmio_reads},
          {"mmio_writes", io.mmio_writes}};
}

}  // namespace heca::vmm

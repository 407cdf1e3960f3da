// The counters a VM's parts keep, gathered once into plain structs: `--stats` at exit prints
// them as text lines and the control socket's `stats` as JSON, both from the same struct.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vmm/bus_vm_ops.h"
#include "vmm/vcpu.h"

namespace heca::vmm {

struct VcpuExitStats {
  std::uint32_t index = 0;
  ExitCounts exits{};
};

[[nodiscard]] VcpuExitStats exit_stats_of(const Vcpu& vcpu);
// "vcpu 0 exits: io=12 interrupted=1 ..." (non-zero counters only).
[[nodiscard]] std::string stats_line(const VcpuExitStats& stats);
// {"index": 0, "exits": {"io": 12, "mmio": 0, ...}}: every exit reason, zeros included.
[[nodiscard]] nlohmann::json to_json(const VcpuExitStats& stats);

// "unclaimed io: pio_reads=0 pio_writes=3 mmio_reads=0 mmio_writes=0"
[[nodiscard]] std::string stats_line(const UnclaimedIoStats& stats);
// {"pio_reads": 0, "pio_writes": 3, "mmio_reads": 0, "mmio_writes": 0}
[[nodiscard]] nlohmann::json to_json(const UnclaimedIoStats& stats);

}  // namespace heca::vmm

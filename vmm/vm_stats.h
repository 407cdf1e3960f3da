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

// A single-node machine (`heca run --guest|--kernel`).
struct MachineStats {
  std::vector<VcpuExitStats> vcpus;
  UnclaimedIoStats unclaimed_io;
};

// One line per vCPU with its exit counters, then one for unclaimed I/O.
[[nodiscard]] std::vector<std::string> stats_lines(const MachineStats& stats);
// {"node": 0, "vcpus": [...], "unclaimed_io": {"pio_reads": ..., ...}}
[[nodiscard]] nlohmann::json to_json(const MachineStats& stats);

}  // namespace heca::vmm

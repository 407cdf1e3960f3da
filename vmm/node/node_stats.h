// NodeStatsReport: every counter of one node, gathered once: `--stats` at exit prints it as
// text lines and the control socket's `stats` returns it as JSON, both from this struct.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "coherence/node.h"
#include "vmm/node/node_links.h"
#include "vmm/proxy/proxy_vcpu.h"
#include "vmm/vm_stats.h"

namespace heca::vmm::node {

struct ProxyReport {
  std::uint32_t apic_id = 0;
  proxy::ProxyStats stats;
};

// The guest TSC of this node's vCPUs against the reference node's host TSC.
struct TscReport {
  bool aligned = true;            // KVM took the offset on every vCPU
  std::int64_t vcpu_offset = 0;   // what every vCPU of this node got
  std::int64_t host_offset = 0;   // measured: this host's TSC vs the reference node's
  std::uint64_t uncertainty = 0;  // +- of the measurement
  std::uint32_t reference_node = 0;
};

// A page granted to this node often, with its guest-physical address when it has one.
struct HotPageReport {
  std::uint64_t page = 0;  // index in the coherent region
  std::optional<std::uint64_t> gpa;
  std::uint32_t grants = 0;
};

struct NodeStatsReport {
  std::uint32_t node = 0;
  std::vector<VcpuExitStats> vcpus;
  std::vector<ProxyReport> proxies;
  TscReport tsc;
  // The coherence engine's counters; absent while the node boots (before the vCPUs start).
  std::optional<coherence::NodeStats> memory;
  std::vector<HotPageReport> hot_pages;
  NodeLinksStats links;
  UnclaimedIoStats unclaimed_io;  // accesses no device of this node claimed and none forwarded
};

// The `--stats` lines: vCPU exits, proxies, TSC, memory, messages, fault latency, hot pages,
// forwarded interrupts and I/O (vmm/node/README.md "Stats").
[[nodiscard]] std::vector<std::string> stats_lines(const NodeStatsReport& report);
// The same counters as one JSON object (vmm/control/README.md "stats").
[[nodiscard]] nlohmann::json to_json(const NodeStatsReport& report);

}  // namespace heca::vmm::node

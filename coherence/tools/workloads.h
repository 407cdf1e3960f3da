// The heca-dsm workloads: checked concurrent access patterns over a coherent ClusterMemory.
// Each returns a verdict; every node of a cluster runs the same workload with the same options.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "coherence/cluster_memory.h"

namespace heca::coherence::tools {

struct WorkloadOptions {
  unsigned threads = 2;
  std::optional<std::chrono::milliseconds> duration;  // run for this long ...
  std::uint64_t iterations = 10000;                   // ... or this many operations per thread
};

struct Verdict {
  bool pass = true;
  std::string summary;  // one line of figures
};

// Random reads/writes of (node, sequence) values; checks per-location coherence and the
// final value of every location this node wrote.
[[nodiscard]] Result<Verdict> run_random(ClusterMemory& memory, const WorkloadOptions& options);
// LOCK XADD on one shared counter from every thread of every node; checks the exact total.
[[nodiscard]] Result<Verdict> run_xadd(ClusterMemory& memory, const WorkloadOptions& options);
// Message passing: node 0 writes data then flag (different pages, different homes); every
// other thread reads flag then data and must never see the flag ahead of the data.
[[nodiscard]] Result<Verdict> run_mp(ClusterMemory& memory, const WorkloadOptions& options);
// Sequential read of every page homed on other nodes; reports MB/s.
[[nodiscard]] Result<Verdict> run_scan(ClusterMemory& memory, const WorkloadOptions& options);

}  // namespace heca::coherence::tools

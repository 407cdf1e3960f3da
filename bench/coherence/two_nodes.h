// Benchmark support: a two-node coherent-memory cluster inside one process (two ClusterMemory
// instances over loopback TCP), and percentile helpers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "coherence/cluster_memory.h"

namespace heca::bench {

struct TwoNodes {
  std::unique_ptr<coherence::ClusterMemory> home;    // node 0: home of every page
  std::unique_ptr<coherence::ClusterMemory> remote;  // node 1
};

// Joins nodes 0 and 1 (concurrently); every page is homed on node 0. `tune` adjusts both
// configs. Exits the process with a message on failure.
TwoNodes start_two_nodes(std::size_t region_size,
                         const std::function<void(coherence::ClusterConfig&)>& tune);
// Both nodes leave (concurrently: each waits for the other's final barrier).
void stop_two_nodes(TwoNodes& nodes);


inline double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1));
  return samples[index];
}

}  // namespace heca::bench

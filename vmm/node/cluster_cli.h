// The multi-node commands of the heca CLI: `heca node --config F --id K` runs one node of a
// guest description; `heca run GUEST.toml` runs every node of it on this machine.
#pragma once

#include "vmm/cli.h"

namespace heca::vmm::node {

// Both print "heca: error: ..." for input errors (exit 2) and return the guest's exit code.
[[nodiscard]] int run_node(const ClusterArgs& args);
[[nodiscard]] int run_cluster(const ClusterArgs& args);

[[nodiscard]] inline ClusterCommands cluster_commands() {
  return {.run_cluster = run_cluster, .node = run_node};
}

}  // namespace heca::vmm::node

// The commands that run a guest: `heca run --guest|--kernel` (a guest of one node, in this
// process), `heca node --config F --id K` (one node of a guest description) and
// `heca run GUEST.toml` (every node of it on this machine). All build their VM with NodeVm.
#pragma once

#include "vmm/cli.h"

namespace heca::vmm::node {

// Each prints "heca: error: ..." for input errors (exit 2) and returns the guest's exit code.
[[nodiscard]] int run_one_node(const RunArgs& args);
[[nodiscard]] int run_node(const RunArgs& args);
[[nodiscard]] int run_cluster(const RunArgs& args);

[[nodiscard]] inline RunCommands run_commands() {
  return {.run_one_node = run_one_node, .run_cluster = run_cluster, .node = run_node};
}

}  // namespace heca::vmm::node

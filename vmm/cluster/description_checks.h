// Cross-node checks of a guest description (ids, roles, vCPU placement, homing) and the
// default even homing. Internal to heca_cluster: the per-table parsing lives in guest_description.cc.
#pragma once

#include <vector>

#include "kernel/base/result.h"
#include "vmm/cluster/guest_description.h"
#include "vmm/cluster/toml_fields.h"

namespace heca::vmm::cluster {

// One [[node]] entry as read, with the reader that locates its errors.
struct ParsedNode {
  NodeDescription node;
  TableReader reader;
  std::vector<TableReader> home_readers;  // one per explicit home range, in file order
};

// Checks the nodes against each other and the guest, orders them by id, and fills every
// memory node's `home` (explicit ranges sorted, or the default shares).
[[nodiscard]] Status finish_nodes(const TableReader& root, std::vector<ParsedNode> parsed,
                                  GuestDescription& description);

// The default homing: contiguous shares of `memory_bytes` proportional to `weights`, rounded
// down to kHomeGranule, the last share taking the rest. Errors when a share would be empty.
[[nodiscard]] Result<std::vector<MemoryRange>> default_shares(
    std::uint64_t memory_bytes, const std::vector<std::uint64_t>& weights);

}  // namespace heca::vmm::cluster

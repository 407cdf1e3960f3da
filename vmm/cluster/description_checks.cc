#include "vmm/cluster/description_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>

namespace heca::vmm::cluster {
namespace {

// INVARIANT on success: the ids are exactly 0..K-1, so parsed[i] can be moved to nodes[id].
Status check_ids(const std::vector<ParsedNode>& parsed) {
  std::vector<const ParsedNode*> by_id(parsed.size(), nullptr);
  for (const auto& entry : parsed) {
    const std::uint32_t id = entry.node.id;
    if (id >= parsed.size()) {
      return entry.reader.error_at(
          "id", fmt::format("node id {} is out of range: with {} [[node]] entries the ids must "
                            "be 0..{}", id, parsed.size(), parsed.size() - 1));
    }
    if (by_id[id] != nullptr) {
      return entry.reader.error_at("id", fmt::format("node id {} is used by both {} and {}", id,
                                                     by_id[id]->reader.path(), entry.reader.path()));
    }
    by_id[id] = &entry;
  }
  return {};
}

Status check_roles(const TableReader& root, const std::vector<ParsedNode>& parsed) {
  const ParsedNode* io = nullptr;
  bool any_memory = false;
  for (const auto& entry : parsed) {
    any_memory = any_memory || entry.node.roles.memory;
    if (!entry.node.roles.io) continue;
    if (io != nullptr) {
      return entry.reader.error_at(
          "roles", fmt::format("both node {} and node {} have the \"io\" role (exactly one node "
                               "must)", io->node.id, entry.node.id));
    }
    io = &entry;
  }
  if (io == nullptr) return root.error_at("", "node: no node has the \"io\" role (exactly one must)");
  if (!any_memory) return root.error_at("", "node: no node has the \"memory\" role");
  return {};
}

Status check_vcpus(const TableReader& root, const std::vector<ParsedNode>& parsed) {
  std::map<std::uint32_t, std::uint32_t> owner;  // vCPU -> node id
  std::size_t count = 0;
  for (const auto& entry : parsed) {
    for (const std::uint32_t vcpu : entry.node.vcpus) {
      const auto [it, fresh] = owner.emplace(vcpu, entry.node.id);
      if (!fresh) {
        return entry.reader.error_at(
            "vcpus", fmt::format("vCPU {} is placed on both node {} and node {}", vcpu, it->second,
                                 entry.node.id));
      }
    }
    count += entry.node.vcpus.size();
  }
  if (count == 0) return root.error_at("", "node: no node has the \"compute\" role");
  for (const auto& entry : parsed) {
    for (const std::uint32_t vcpu : entry.node.vcpus) {
      if (vcpu < count) continue;
      std::uint32_t hole = 0;
      while (owner.contains(hole)) ++hole;
      return entry.reader.error_at(
          "vcpus", fmt::format("vCPU ids must be 0..{} without gaps, but vCPU {} is placed and "
                               "vCPU {} is not", count - 1, vcpu, hole));
    }
  }
  return {};
}

Status check_range_alignment(const ParsedNode& entry) {
  for (std::size_t i = 0; i < entry.node.home.size(); ++i) {
    const MemoryRange& range = entry.node.home[i];
    const TableReader& reader = entry.home_readers[i];
    if (range.size == 0) return reader.error_at("size", "must not be zero");
    if (range.start % kGuestPageSize != 0) {
      return reader.error_at("start", "is not a multiple of the 4 KiB page");
    }
    if (range.size % kGuestPageSize != 0) {
      return reader.error_at("size", "is not a multiple of the 4 KiB page");
    }
  }
  return {};
}

struct PlacedRange {
  MemoryRange range;
  const TableReader* reader;
};

std::string describe(const MemoryRange& r) {
  return fmt::format("[{:#x}, {:#x})", r.start, r.end());
}

// INVARIANT on success: the explicit ranges tile [0, memory_bytes) exactly.
Status check_explicit_homes(const TableReader& root, const std::vector<ParsedNode>& parsed,
                            std::uint64_t memory_bytes) {
  std::vector<PlacedRange> ranges;
  for (const auto& entry : parsed) {
    if (entry.node.roles.memory && entry.node.home.empty()) {
      return entry.reader.error_at("home", "other nodes list explicit home ranges, so every "
                                           "\"memory\" node must (or none may)");
    }
    if (auto s = check_range_alignment(entry); !s) return s;
    for (std::size_t i = 0; i < entry.node.home.size(); ++i) {
      ranges.push_back({entry.node.home[i], &entry.home_readers[i]});
    }
  }
  std::ranges::sort(ranges, {}, [](const PlacedRange& p) { return p.range.start; });
  std::uint64_t covered = 0;
  for (const auto& placed : ranges) {
    const MemoryRange& r = placed.range;
    if (r.start < covered) {
      return placed.reader->error_at("start", fmt::format("home range {} overlaps another one",
                                                          describe(r)));
    }
    if (r.start > covered) {
      return placed.reader->error_at("start", fmt::format("home ranges leave a gap [{:#x}, {:#x})",
                                                          covered, r.start));
    }
    if (r.size > memory_bytes || r.start > memory_bytes - r.size) {
      return placed.reader->error_at("size", fmt::format("home range {} runs past guest memory "
                                                         "({:#x} bytes)", describe(r), memory_bytes));
    }
    covered = r.end();
  }
  if (covered != memory_bytes) {
    return root.error_at("", fmt::format("node.home: home ranges leave guest memory [{:#x}, {:#x}) "
                                         "without a home", covered, memory_bytes));
  }
  return {};
}

Status assign_default_homes(const TableReader& root, std::vector<NodeDescription>& nodes,
                            std::uint64_t memory_bytes) {
  std::vector<std::uint64_t> weights;
  for (const auto& node : nodes) {
    if (node.roles.memory) weights.push_back(node.memory_share);
  }
  auto shares = default_shares(memory_bytes, weights);
  if (!shares) return root.error_at("", fmt::format("guest.memory: {}", shares.error().what));
  std::size_t next = 0;
  for (auto& node : nodes) {
    if (node.roles.memory) node.home = {(*shares)[next++]};
  }
  return {};
}

}  // namespace

Result<std::vector<MemoryRange>> default_shares(std::uint64_t memory_bytes,
                                                const std::vector<std::uint64_t>& weights) {
  using Wide = unsigned __int128;
  const Wide total = std::accumulate(weights.begin(), weights.end(), Wide{0});
  std::vector<MemoryRange> shares;
  std::uint64_t start = 0;
  for (std::size_t i = 0; i + 1 < weights.size(); ++i) {
    const auto exact = static_cast<std::uint64_t>(Wide{memory_bytes} * weights[i] / total);
    const std::uint64_t size = exact / kHomeGranule * kHomeGranule;
    if (size == 0) {
      return make_error(fmt::format("{} bytes is too small to give each of the {} memory nodes "
                                    "a 2 MiB share", memory_bytes, weights.size()));
    }
    shares.push_back({.start = start, .size = size});
    start += size;
  }
  if (start >= memory_bytes) {
    return make_error(fmt::format("{} bytes leaves no share for the last memory node", memory_bytes));
  }
  shares.push_back({.start = start, .size = memory_bytes - start});
  return shares;
}

Status finish_nodes(const TableReader& root, std::vector<ParsedNode> parsed,
                    GuestDescription& description) {
  if (auto s = check_ids(parsed); !s) return s;
  if (auto s = check_roles(root, parsed); !s) return s;
  if (auto s = check_vcpus(root, parsed); !s) return s;
  // Node K listens on base_port + K (memory) and base_port + kLinkPortOffset + K (links).
  const auto last_port =
      std::uint64_t{description.base_port} + kLinkPortOffset + parsed.size() - 1;
  if (last_port > 65535) {
    return root.error_at(
        "", fmt::format("transport.base_port: {} + {} + {} nodes runs past port 65535",
                        description.base_port, kLinkPortOffset, parsed.size()));
  }
  const bool explicit_homes =
      std::ranges::any_of(parsed, [](const ParsedNode& p) { return !p.node.home.empty(); });
  if (explicit_homes) {
    if (auto s = check_explicit_homes(root, parsed, description.memory_bytes); !s) return s;
  }
  description.nodes.resize(parsed.size());
  for (auto& entry : parsed) {
    std::ranges::sort(entry.node.home, {}, &MemoryRange::start);
    description.nodes[entry.node.id] = std::move(entry.node);
  }
  if (explicit_homes) return {};
  return assign_default_homes(root, description.nodes, description.memory_bytes);
}

}  // namespace heca::vmm::cluster

#include "firmware/litmus/placement.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

namespace heca::firmware::litmus {

std::vector<std::uint32_t> spread_order(std::span<const std::uint32_t> node_of_vcpu) {
  std::map<std::uint32_t, std::vector<std::uint32_t>> vcpus_of_node;
  for (std::uint32_t vcpu = 0; vcpu < node_of_vcpu.size(); ++vcpu) {
    vcpus_of_node[node_of_vcpu[vcpu]].push_back(vcpu);
  }
  std::vector<std::uint32_t> order;
  for (std::size_t round = 0; order.size() < node_of_vcpu.size(); ++round) {
    for (const auto& [node, vcpus] : vcpus_of_node) {
      if (round < vcpus.size()) order.push_back(vcpus[round]);
    }
  }
  return order;
}

Result<ThreadPlacement> place_threads(std::size_t threads,
                                      std::span<const std::uint32_t> node_of_vcpu) {
  if (threads > node_of_vcpu.size() || threads > abi::kMaxThreads) {
    return make_error(fmt::format("{} threads need at least {} vCPUs (the guest has {})", threads,
                                  threads, node_of_vcpu.size()));
  }
  const auto order = spread_order(node_of_vcpu);
  ThreadPlacement placement{.threads = threads};
  for (std::size_t t = 0; t < threads; ++t) {
    placement.cpu_of_thread[t] = order[t];
    placement.node_of_thread[t] = node_of_vcpu[order[t]];
  }
  // Unused slots name distinct vCPUs too, so the blob's "one thread per vCPU" check holds.
  for (std::size_t t = threads; t < abi::kMaxThreads; ++t) {
    placement.cpu_of_thread[t] = t < order.size() ? order[t] : static_cast<std::uint32_t>(t);
  }
  return placement;
}

std::string ThreadPlacement::describe() const {
  std::string text;
  for (std::size_t t = 0; t < threads; ++t) {
    text += fmt::format("{}thread {} on vCPU {} (node {})", t == 0 ? "" : ", ", t,
                        cpu_of_thread[t], node_of_thread[t]);
  }
  return text;
}

std::string ThreadPlacement::shared_node_warning(std::size_t nodes_with_vcpus) const {
  std::map<std::uint32_t, std::vector<std::size_t>> threads_of_node;
  for (std::size_t t = 0; t < threads; ++t) threads_of_node[node_of_thread[t]].push_back(t);
  std::string shared;
  for (const auto& [node, list] : threads_of_node) {
    if (list.size() < 2) continue;
    shared += fmt::format("{}threads {} share node {}", shared.empty() ? "" : "; ",
                          fmt::join(list, " and "), node);
  }
  if (shared.empty()) return {};
  return fmt::format("{} ({} threads, {} node{} with vCPUs): their accesses to each other's "
                     "locations do not cross nodes",
                     shared, threads, nodes_with_vcpus, nodes_with_vcpus == 1 ? "" : "s");
}

}  // namespace heca::firmware::litmus

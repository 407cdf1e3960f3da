// Where a litmus test's threads run: on vCPUs of distinct nodes wherever the guest has enough
// nodes with vCPUs, so that a test "across nodes" really moves its locations between nodes.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "firmware/litmus/blob_abi.h"
#include "kernel/base/result.h"

namespace heca::firmware::litmus {

struct ThreadPlacement {
  std::array<std::uint32_t, abi::kMaxThreads> cpu_of_thread{};  // thread t runs on this vCPU
  std::array<std::uint32_t, abi::kMaxThreads> node_of_thread{};
  std::size_t threads = 0;
  // "thread 0 on vCPU 0 (node 0), thread 1 on vCPU 2 (node 1)"
  [[nodiscard]] std::string describe() const;
  // Empty when every thread has a node of its own; else which threads share one, and why.
  [[nodiscard]] std::string shared_node_warning(std::size_t nodes_with_vcpus) const;
};

// The guest's vCPUs in the order threads take them: the first vCPU of each node (nodes by id),
// then the second of each, and so on. `node_of_vcpu[i]` is the node that runs vCPU i.
[[nodiscard]] std::vector<std::uint32_t> spread_order(std::span<const std::uint32_t> node_of_vcpu);

// Thread t takes spread_order()[t]. Errors: more threads than vCPUs.
[[nodiscard]] Result<ThreadPlacement> place_threads(std::size_t threads,
                                                    std::span<const std::uint32_t> node_of_vcpu);

}  // namespace heca::firmware::litmus

// place_threads(): a litmus test's threads go to vCPUs of distinct nodes while there are nodes.
#include "firmware/litmus/placement.h"

#include <gtest/gtest.h>

#include <vector>

namespace heca::firmware::litmus {
namespace {

TEST(LitmusPlacement, ThreadsTakeOneVcpuOfEachNodeBeforeASecond) {
  // vmm/cluster/examples/three-nodes.toml: vCPUs 0,1 on node 0, 2,3 on node 1, 4 on node 2.
  const std::vector<std::uint32_t> node_of_vcpu = {0, 0, 1, 1, 2};

  auto placement = place_threads(3, node_of_vcpu);

  ASSERT_TRUE(placement.has_value()) << placement.error().message();
  EXPECT_EQ(placement->describe(),
            "thread 0 on vCPU 0 (node 0), thread 1 on vCPU 2 (node 1), thread 2 on vCPU 4 (node 2)");
  EXPECT_EQ(placement->shared_node_warning(3), "");
}

TEST(LitmusPlacement, SpreadOrderInterleavesTheNodes) {
  const std::vector<std::uint32_t> node_of_vcpu = {0, 0, 1, 1, 2};

  EXPECT_EQ(spread_order(node_of_vcpu), (std::vector<std::uint32_t>{0, 2, 4, 1, 3}));
}

TEST(LitmusPlacement, FollowsNodesNotVcpuNumbers) {
  // Node 1 runs vCPUs 0 and 3, node 0 runs 1 and 2.
  const std::vector<std::uint32_t> node_of_vcpu = {1, 0, 0, 1};

  auto placement = place_threads(2, node_of_vcpu);

  ASSERT_TRUE(placement.has_value());
  EXPECT_EQ(placement->describe(), "thread 0 on vCPU 1 (node 0), thread 1 on vCPU 0 (node 1)");
}

TEST(LitmusPlacement, WarnsWhenThreadsMustShareANode) {
  const std::vector<std::uint32_t> node_of_vcpu = {0, 0, 1, 1};

  auto placement = place_threads(3, node_of_vcpu);

  ASSERT_TRUE(placement.has_value());
  EXPECT_EQ(placement->shared_node_warning(2),
            "threads 0 and 2 share node 0 (3 threads, 2 nodes with vCPUs): their accesses to "
            "each other's locations do not cross nodes");
}

TEST(LitmusPlacement, OneNodeGuestsUseVcpusInOrder) {
  const std::vector<std::uint32_t> node_of_vcpu = {0, 0, 0, 0};

  auto placement = place_threads(4, node_of_vcpu);

  ASSERT_TRUE(placement.has_value());
  EXPECT_EQ(placement->cpu_of_thread, (std::array<std::uint32_t, 4>{0, 1, 2, 3}));
}

TEST(LitmusPlacement, RefusesMoreThreadsThanVcpus) {
  const std::vector<std::uint32_t> node_of_vcpu = {0, 1};

  auto placement = place_threads(3, node_of_vcpu);

  ASSERT_FALSE(placement.has_value());
  EXPECT_EQ(placement.error().message(), "3 threads need at least 3 vCPUs (the guest has 2)");
}

}  // namespace
}  // namespace heca::firmware::litmus

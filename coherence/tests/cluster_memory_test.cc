// The library API in one process: two ClusterMemory nodes over loopback TCP.
#include "coherence/cluster_memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "tests/support/loopback_ports.h"

namespace heca::coherence {
namespace {

constexpr std::size_t kRegion = 1 << 20;

std::vector<PeerAddress> loopback_peers(const heca::testing::ReservedPorts& ports) {
  return {{0, "127.0.0.1", ports[0]}, {1, "127.0.0.1", ports[1]}};
}

std::atomic_ref<std::uint64_t> word(ClusterMemory& memory, std::size_t offset) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(memory.data() + offset));
}

TEST(ClusterMemory, WritesOnOneNodeAreSeenByTheOther) {
  const auto ports = heca::testing::ReservedPorts::consecutive(2);
  const auto peers = loopback_peers(ports);
  auto join = [&](NodeId id) {
    return ClusterMemory::join(ClusterConfig{.self = id, .peers = peers, .region_size = kRegion});
  };
  auto first = std::async(std::launch::async, join, NodeId{0});
  auto node1 = join(1);
  auto node0 = first.get();
  ASSERT_TRUE(node0.has_value()) << node0.error().message();
  ASSERT_TRUE(node1.has_value()) << node1.error().message();
  constexpr std::size_t kOnNode0 = 3 * kPageSize + 8;         // homed on node 0
  constexpr std::size_t kOnNode1 = kRegion - kPageSize + 16;  // homed on node 1

  word(**node1, kOnNode0).store(41);
  word(**node0, kOnNode1).store(42);

  EXPECT_EQ(word(**node0, kOnNode0).load(), 41U);
  EXPECT_EQ(word(**node1, kOnNode1).load(), 42U);
  EXPECT_GE((*node1)->stats().protocol.grants_received, 1U);
  auto leaving = std::async(std::launch::async, [&] { return (*node0)->leave(); });
  EXPECT_TRUE((*node1)->leave().has_value());
  EXPECT_TRUE(leaving.get().has_value());
}

TEST(ClusterMemory, JoinRejectsAnIdThatIsNotAPeer) {
  const auto ports = heca::testing::ReservedPorts::consecutive(2);

  const auto joined = ClusterMemory::join(
      ClusterConfig{.self = 2, .peers = loopback_peers(ports), .region_size = kRegion});

  ASSERT_FALSE(joined.has_value());
  EXPECT_EQ(joined.error().what, "node id 2 is not among the 2 peers");
}

TEST(ClusterMemory, JoinRejectsARegionThatIsNotWholePages) {
  const auto ports = heca::testing::ReservedPorts::consecutive(2);

  const auto joined = ClusterMemory::join(
      ClusterConfig{.self = 0, .peers = loopback_peers(ports), .region_size = 1000});

  EXPECT_FALSE(joined.has_value());
}

TEST(ClusterMemory, ParsesPeerList) {
  const auto peers = parse_peers("10.0.0.1:7000,10.0.0.2:7001");

  ASSERT_TRUE(peers.has_value());
  ASSERT_EQ(peers->size(), 2U);
  EXPECT_EQ((*peers)[1].id, 1);
  EXPECT_EQ((*peers)[1].host, "10.0.0.2");
  EXPECT_EQ((*peers)[1].port, 7001);
}

TEST(ClusterMemory, RejectsPeerWithoutPort) {
  EXPECT_FALSE(parse_peers("10.0.0.1:7000,10.0.0.2").has_value());
}

}  // namespace
}  // namespace heca::coherence

// Multi-node interleavings driven step by step: the races the protocol is designed for.
#include <gtest/gtest.h>

#include <chrono>

#include "coherence/tests/sim_cluster.h"

namespace heca::coherence::testing {
namespace {

using namespace std::chrono_literals;
using wire::MessageType;

constexpr PageIndex kPage = 0;  // homed on node 0

SimCluster cluster(std::uint16_t nodes, Nanos hold = Nanos{0}) {
  return SimCluster(SimConfig{.nodes = nodes,
                              .pages = nodes,
                              .min_hold = hold,
                              .homes = HomeMap::interleave(nodes, nodes, 1)});
}

TEST(ProtocolRace, InvalidationWhileAnUpgradeIsInFlightIsAckedAndTheGrantCarriesData) {
  SimCluster sim = cluster(3);
  sim.fault(1, kPage, Access::kRead);
  sim.fault(2, kPage, Access::kRead);
  ASSERT_TRUE(sim.settle());
  sim.fault(1, kPage, Access::kWrite);
  sim.fault(2, kPage, Access::kWrite);
  ASSERT_TRUE(sim.deliver(2, 0));  // node 2's upgrade wins: node 1 gets invalidated

  ASSERT_TRUE(sim.deliver(0, 1));  // ... while node 1's own upgrade is in flight

  EXPECT_EQ(sim.mapped(1, kPage), PageState::kInvalid);
  EXPECT_TRUE(sim.node(1).request_outstanding(kPage));
  ASSERT_EQ(sim.channel(1, 0).size(), 2U);  // the upgrade request, then the ack
  EXPECT_EQ(sim.channel(1, 0).back().message.type, MessageType::kInvalidateAck);
  ASSERT_TRUE(sim.deliver(1, 0));
  ASSERT_TRUE(sim.deliver(1, 0));
  ASSERT_TRUE(sim.deliver(0, 2));
  sim.memory(2, kPage) = 33;  // node 2 writes with M
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.mapped(1, kPage), PageState::kModified);
  EXPECT_EQ(sim.mapped(2, kPage), PageState::kInvalid);
  EXPECT_EQ(sim.memory(1, kPage), 33U);
}

TEST(ProtocolRace, AnInvalidationQueuedBehindAGrantIsAppliedAfterIt) {
  SimCluster sim = cluster(3);
  sim.fault(1, kPage, Access::kRead);
  ASSERT_TRUE(sim.deliver(1, 0));  // grant S queued on 0 -> 1
  sim.fault(2, kPage, Access::kWrite);
  ASSERT_TRUE(sim.deliver(2, 0));  // invalidate queued behind it

  ASSERT_TRUE(sim.deliver(0, 1));
  EXPECT_EQ(sim.mapped(1, kPage), PageState::kShared);
  ASSERT_TRUE(sim.deliver(0, 1));
  EXPECT_EQ(sim.mapped(1, kPage), PageState::kInvalid);
  ASSERT_TRUE(sim.settle());

  EXPECT_EQ(sim.mapped(2, kPage), PageState::kModified);
  EXPECT_TRUE(sim.swmr(kPage));
}

TEST(ProtocolRace, ConcurrentWritesFromEveryNodeAreSerialisedByTheHome) {
  SimCluster sim = cluster(4);
  std::mt19937_64 rng(3);
  for (NodeId node = 0; node < 4; ++node) sim.fault(node, kPage, Access::kWrite);
  int grants_seen = 0;

  while (sim.deliver_random(rng)) {
    ASSERT_TRUE(sim.swmr(kPage));
    for (NodeId node = 0; node < 4; ++node) {
      if (sim.mapped(node, kPage) == PageState::kModified) ++sim.memory(node, kPage);
    }
  }

  for (NodeId node = 0; node < 4; ++node) {
    grants_seen += static_cast<int>(sim.node(node).stats().grants_received);
  }
  EXPECT_EQ(grants_seen, 4);
  EXPECT_EQ(sim.node(0).stats().transactions, 4U);
}

TEST(ProtocolRace, TwoReadersAndAWriterNeverOverlap) {
  SimCluster sim = cluster(3);
  std::mt19937_64 rng(11);
  sim.fault(1, kPage, Access::kRead);
  sim.fault(2, kPage, Access::kRead);
  sim.fault(0, kPage, Access::kWrite);

  while (sim.deliver_random(rng)) ASSERT_TRUE(sim.swmr(kPage));

  EXPECT_TRUE(sim.node(1).quiescent());
  EXPECT_TRUE(sim.node(2).quiescent());
}

// A writer thread on one node: it writes whenever its node holds M and it has woken up
// (wake_latency after the grant), and faults again once the page was taken away.
struct PingPongWriter {
  NodeId node = 0;
  bool faulted = false;
  Nanos ready_at{0};
  int writes = 0;
};

// Two nodes alternately write one page; every message is delivered as soon as it is sent
// (the most hostile schedule for the writers). Returns the writes each node completed.
std::pair<int, int> ping_pong(SimCluster& sim, PageIndex page, NodeId a, NodeId b, int steps) {
  const Nanos wake_latency = 5us;
  PingPongWriter writers[2] = {{.node = a}, {.node = b}};
  for (int step = 0; step < steps; ++step) {
    for (PingPongWriter& writer : writers) {
      const bool held = sim.mapped(writer.node, page) == PageState::kModified;
      if (held && writer.faulted) {
        writer.faulted = false;
        writer.ready_at = sim.now() + wake_latency;
      } else if (held && sim.now() >= writer.ready_at) {
        ++writer.writes;
        ++sim.memory(writer.node, page);
        writer.ready_at = sim.now() + 1us;
      } else if (!held && !sim.node(writer.node).request_outstanding(page)) {
        writer.faulted = true;
        sim.fault(writer.node, page, Access::kWrite);
      }
    }
    for (NodeId from = 0; from < sim.size(); ++from) {
      for (NodeId to = 0; to < sim.size(); ++to) {
        while (sim.deliver(from, to)) {
        }
      }
    }
    EXPECT_TRUE(sim.swmr(page));
    sim.advance(1us);
  }
  return {writers[0].writes, writers[1].writes};
}

TEST(ProtocolRace, WritePingPongBetweenTwoRemoteNodesMakesProgressOnBoth) {
  SimCluster sim = cluster(3, 20us);

  const auto [first, second] = ping_pong(sim, kPage, 1, 2, 5000);

  EXPECT_GE(first, 100);
  EXPECT_GE(second, 100);
}

TEST(ProtocolRace, WritePingPongBetweenTheHomeAndARemoteNodeMakesProgressOnBoth) {
  SimCluster sim = cluster(2, 20us);

  const auto [home, remote] = ping_pong(sim, kPage, 0, 1, 5000);

  EXPECT_GE(home, 100);
  EXPECT_GE(remote, 100);
}

// Why the minimum hold exists: without it this schedule takes the page away from each node
// before its woken thread can retry, forever.
TEST(ProtocolRace, WritePingPongWithoutAHoldTimeLivelocks) {
  SimCluster sim = cluster(3, Nanos{0});

  const auto [first, second] = ping_pong(sim, kPage, 1, 2, 5000);

  EXPECT_EQ(first + second, 0);
}

}  // namespace
}  // namespace heca::coherence::testing

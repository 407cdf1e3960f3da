// The requester side: coalescing, spurious wake-ups, the minimum hold, prefetch, violations.
#include <gtest/gtest.h>

#include <chrono>

#include "coherence/tests/sim_cluster.h"

namespace heca::coherence::testing {
namespace {

using namespace std::chrono_literals;
using wire::Message;
using wire::MessageType;

constexpr PageIndex kRemotePage = 1;  // homed on node 1; node 0 is the requester

SimCluster two_nodes(Nanos hold = Nanos{0}) {
  return SimCluster(
      SimConfig{.nodes = 2, .pages = 4, .min_hold = hold, .homes = HomeMap::interleave(4, 2, 1)});
}

// Holds adapt between 10 us and 1 ms.
SimCluster adaptive_two_nodes() {
  return SimCluster(SimConfig{.nodes = 2,
                              .pages = 4,
                              .min_hold = 10us,
                              .max_hold = 1000us,
                              .homes = HomeMap::interleave(4, 2, 1)});
}

template <class T>
int count(const Actions& actions) {
  int n = 0;
  for (const Action& action : actions) n += std::holds_alternative<T>(action) ? 1 : 0;
  return n;
}

TEST(PageRequester, WithReadsTakingOwnershipAReadFaultAsksForTheWholePageAndNeverMapsItShared) {
  SimCluster sim(SimConfig{.nodes = 2,
                           .pages = 4,
                           .homes = HomeMap::interleave(4, 2, 1),
                           .reads_take_ownership = true});

  sim.fault(0, kRemotePage, Access::kRead);

  ASSERT_EQ(sim.channel(0, 1).size(), 1U);
  EXPECT_EQ(sim.channel(0, 1).front().message.type, MessageType::kWriteRequest);
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kModified);
  EXPECT_EQ(sim.node(0).stats().read_faults, 1U);
}

TEST(PageRequester, SecondReadFaultOnTheSamePageIsCoalesced) {
  SimCluster sim = two_nodes();
  sim.fault(0, kRemotePage, Access::kRead);

  sim.fault(0, kRemotePage, Access::kRead);

  EXPECT_EQ(sim.channel(0, 1).size(), 1U);
  EXPECT_EQ(sim.node(0).stats().coalesced_faults, 1U);
}

TEST(PageRequester, ReadFaultDuringAnOutstandingWriteRequestJustWaits) {
  SimCluster sim = two_nodes();
  sim.fault(0, kRemotePage, Access::kWrite);

  sim.fault(0, kRemotePage, Access::kRead);
  ASSERT_TRUE(sim.settle());

  EXPECT_EQ(sim.node(1).stats().transactions, 1U);
  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kModified);
}

TEST(PageRequester, WriteFaultDuringAnOutstandingReadRequestUpgradesAfterTheGrant) {
  SimCluster sim = two_nodes();
  sim.fault(0, kRemotePage, Access::kRead);
  sim.fault(0, kRemotePage, Access::kWrite);
  ASSERT_EQ(sim.channel(0, 1).size(), 1U);
  ASSERT_TRUE(sim.deliver(0, 1));

  ASSERT_TRUE(sim.deliver(1, 0));

  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kShared);
  ASSERT_EQ(sim.channel(0, 1).size(), 1U);
  EXPECT_EQ(sim.channel(0, 1).front().message.type, MessageType::kWriteRequest);
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kModified);
}

TEST(PageRequester, FaultOnAPageAlreadyHeldOnlyReinstallsToWakeTheThread) {
  SimCluster sim = two_nodes();
  sim.fault(0, kRemotePage, Access::kRead);
  ASSERT_TRUE(sim.settle());

  sim.fault(0, kRemotePage, Access::kRead);

  EXPECT_EQ(sim.in_flight(), 0U);
  EXPECT_EQ(count<InstallAction>(sim.last_actions(0)), 1);
  EXPECT_EQ(sim.node(0).stats().spurious_faults, 1U);
}

TEST(PageRequester, HottestPagesCountGrantsPerPageMostFirst) {
  SimCluster sim = two_nodes();
  for (int round = 0; round < 3; ++round) {
    sim.fault(0, kRemotePage, Access::kWrite);  // node 0 takes it...
    ASSERT_TRUE(sim.settle());
    sim.fault(1, kRemotePage, Access::kWrite);  // ...and the home takes it back
    ASSERT_TRUE(sim.settle());
  }
  sim.fault(0, 3, Access::kRead);
  ASSERT_TRUE(sim.settle());

  const auto hot = sim.node(0).hottest_pages(8);

  ASSERT_EQ(hot.size(), 2U);
  EXPECT_EQ(hot[0].page, kRemotePage);
  EXPECT_EQ(hot[0].grants, 3U);
  EXPECT_EQ(hot[1].page, 3U);
  EXPECT_EQ(hot[1].grants, 1U);
  EXPECT_EQ(sim.node(0).hottest_pages(1).size(), 1U);
}

TEST(PageRequester, AdaptiveHoldFollowsTheTimeATransferTookWithinItsBounds) {
  SimCluster sim = adaptive_two_nodes();
  EXPECT_EQ(sim.node(0).hold_time(), 10us);  // nothing measured yet: the floor

  sim.fault(0, kRemotePage, Access::kWrite);
  sim.advance(400us);  // the request takes 400 us to be granted
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.node(0).hold_time(), 400us);

  sim.fault(1, kRemotePage, Access::kWrite);  // the home wants it back at once...
  ASSERT_TRUE(sim.deliver(1, 0));
  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kModified);  // ...and waits out the hold
  sim.advance(400us);
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kInvalid);

  sim.fault(0, 3, Access::kRead);
  sim.advance(20000us);  // a very slow transfer: the hold stops at max_hold
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.node(0).hold_time(), 1000us);
}

// Under ping-pong each request waits out the other node's hold. Learning from those waits
// made both holds climb to max_hold; a grant that waited for a hold is no sample.
TEST(PageRequester, AdaptiveHoldDoesNotLearnFromAnotherNodesHold) {
  SimCluster sim = adaptive_two_nodes();
  sim.fault(0, kRemotePage, Access::kWrite);
  sim.advance(400us);
  ASSERT_TRUE(sim.settle());
  ASSERT_EQ(sim.node(0).hold_time(), 400us);

  sim.fault(1, kRemotePage, Access::kWrite);  // the home: waits out node 0's 400 us hold
  ASSERT_TRUE(sim.deliver(1, 0));
  ASSERT_EQ(sim.mapped(0, kRemotePage), PageState::kModified);
  sim.advance(400us);
  ASSERT_TRUE(sim.settle());
  ASSERT_EQ(sim.mapped(1, kRemotePage), PageState::kModified);

  EXPECT_EQ(sim.node(1).hold_time(), 10us);  // it waited for a hold, not for a transfer
  sim.fault(0, kRemotePage, Access::kWrite);  // node 0 in turn waits out the home's hold
  ASSERT_TRUE(sim.deliver(0, 1));
  ASSERT_EQ(sim.mapped(1, kRemotePage), PageState::kModified);
  sim.advance(10us);
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kModified);
  EXPECT_EQ(sim.node(0).hold_time(), 400us);
}

// A reader's copy is held for min_hold only: the adaptive hold is for a writer's bursts, and
// on a read-mostly page (a clock the other node ticks) it would stall every write.
TEST(PageRequester, ReadGrantIsHeldForTheMinimumHoldOnly) {
  SimCluster sim = adaptive_two_nodes();
  sim.fault(0, kRemotePage, Access::kRead);
  sim.advance(400us);
  ASSERT_TRUE(sim.settle());
  ASSERT_EQ(sim.node(0).hold_time(), 400us);

  sim.fault(1, kRemotePage, Access::kWrite);  // the home writes: invalidates node 0's copy
  ASSERT_TRUE(sim.deliver(1, 0));
  ASSERT_EQ(sim.mapped(0, kRemotePage), PageState::kShared);
  sim.advance(10us);
  ASSERT_TRUE(sim.settle());

  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kInvalid);
  EXPECT_EQ(sim.mapped(1, kRemotePage), PageState::kModified);
}

TEST(PageRequester, InvalidationWithinTheHoldTimeIsDeferredUntilTheTimer) {
  SimCluster sim = two_nodes(30us);
  sim.fault(0, kRemotePage, Access::kRead);
  ASSERT_TRUE(sim.deliver(0, 1));
  ASSERT_TRUE(sim.deliver(1, 0));
  sim.fault(1, kRemotePage, Access::kWrite);  // the home writes: invalidates node 0

  ASSERT_TRUE(sim.deliver(1, 0));

  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kShared);
  EXPECT_EQ(count<ArmTimerAction>(sim.last_actions(0)), 1);
  EXPECT_TRUE(sim.channel(0, 1).empty());
  sim.advance(30us);
  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kInvalid);
  EXPECT_EQ(sim.channel(0, 1).front().message.type, MessageType::kInvalidateAck);
}

TEST(PageRequester, FetchWithinTheHoldTimeIsDeferredAndTheDataStillArrives) {
  SimCluster sim = two_nodes(30us);
  sim.fault(0, kRemotePage, Access::kWrite);
  ASSERT_TRUE(sim.settle());
  sim.memory(0, kRemotePage) = 11;
  sim.fault(1, kRemotePage, Access::kRead);

  ASSERT_TRUE(sim.deliver(1, 0));
  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kModified);
  sim.advance(30us);
  ASSERT_TRUE(sim.settle());

  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kShared);
  EXPECT_EQ(sim.mapped(1, kRemotePage), PageState::kShared);
  EXPECT_EQ(sim.memory(1, kRemotePage), 11U);
}

TEST(PageRequester, InvalidationAfterTheHoldTimeIsServedAtOnce) {
  SimCluster sim = two_nodes(30us);
  sim.fault(0, kRemotePage, Access::kRead);
  ASSERT_TRUE(sim.settle());
  sim.advance(31us);
  sim.fault(1, kRemotePage, Access::kWrite);

  ASSERT_TRUE(sim.deliver(1, 0));

  EXPECT_EQ(sim.mapped(0, kRemotePage), PageState::kInvalid);
  EXPECT_EQ(count<ZapAction>(sim.last_actions(0)), 1);
}

TEST(PageRequester, GrantWithoutAnOutstandingRequestIsRejected) {
  SimCluster sim = two_nodes();
  Actions actions;

  const auto status = sim.node(0).on_message(
      1,
      Message{.type = MessageType::kGrant, .sender = 1, .page = kRemotePage, .has_page_data = true},
      sim.now(), actions);

  ASSERT_FALSE(status.has_value());
  EXPECT_TRUE(actions.empty());
}

TEST(PageRequester, FetchOfAPageThisNodeDoesNotOwnIsRejected) {
  SimCluster sim = two_nodes();
  Actions actions;

  const auto status = sim.node(0).on_message(
      1, Message{.type = MessageType::kFetch, .sender = 1, .page = kRemotePage}, sim.now(),
      actions);

  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().what, "Fetch from node 1 for page 1: this node does not own the page");
}

TEST(PageRequester, CommandFromANodeThatIsNotTheHomeIsRejected) {
  SimCluster sim(SimConfig{.nodes = 3, .pages = 3, .homes = HomeMap::interleave(3, 3, 1)});
  Actions actions;

  const auto status = sim.node(0).on_message(
      2, Message{.type = MessageType::kInvalidate, .sender = 2, .page = 1}, sim.now(), actions);

  EXPECT_FALSE(status.has_value());
}

TEST(PageRequester, PrefetchIsOffByDefault) {
  SimCluster sim(SimConfig{.nodes = 2, .pages = 16});

  sim.fault(0, 8, Access::kRead);

  EXPECT_EQ(sim.channel(0, 1).size(), 1U);
}

TEST(PageRequester, PrefetchRequestsTheFollowingPagesOfTheSameHome) {
  SimCluster sim(SimConfig{.nodes = 2, .pages = 16, .prefetch_window = 3});

  sim.fault(0, 8, Access::kRead);
  ASSERT_TRUE(sim.settle());

  EXPECT_EQ(sim.node(0).stats().prefetch_requests, 3U);
  EXPECT_EQ(sim.mapped(0, 11), PageState::kShared);
  EXPECT_EQ(sim.mapped(0, 12), PageState::kInvalid);
}

TEST(PageRequester, PrefetchStopsAtTheHomeBoundary) {
  SimCluster sim(SimConfig{.nodes = 2, .pages = 16, .prefetch_window = 4});

  sim.fault(0, 14, Access::kRead);

  EXPECT_EQ(sim.node(0).stats().prefetch_requests, 1U);
}

TEST(PageRequester, PrefetchedPageIsNotHeldAgainstInvalidation) {
  SimCluster sim(SimConfig{.nodes = 2, .pages = 16, .min_hold = 30us, .prefetch_window = 1});
  sim.fault(0, 8, Access::kRead);
  ASSERT_TRUE(sim.settle());
  sim.fault(1, 9, Access::kWrite);

  ASSERT_TRUE(sim.deliver(1, 0));

  EXPECT_EQ(sim.mapped(0, 9), PageState::kInvalid);
}

}  // namespace
}  // namespace heca::coherence::testing

// The home side: grants, fetches, invalidations, serialisation and rejected violations.
#include <gtest/gtest.h>

#include "coherence/tests/sim_cluster.h"

namespace heca::coherence::testing {
namespace {

using wire::Message;
using wire::MessageType;

constexpr PageIndex kPage = 0;  // homed on node 0 in every test below

SimCluster four_nodes() {
  return SimCluster(SimConfig{.nodes = 4, .pages = 4, .homes = HomeMap::interleave(4, 4, 1)});
}

MessageType front_type(const SimCluster& sim, NodeId from, NodeId to) {
  return sim.channel(from, to).front().message.type;
}

// Node `node` ends up holding kPage in S.
void make_sharer(SimCluster& sim, NodeId node) {
  sim.fault(node, kPage, Access::kRead);
  ASSERT_TRUE(sim.settle());
  ASSERT_EQ(sim.mapped(node, kPage), PageState::kShared);
}

void make_owner(SimCluster& sim, NodeId node) {
  sim.fault(node, kPage, Access::kWrite);
  ASSERT_TRUE(sim.settle());
  ASSERT_EQ(sim.mapped(node, kPage), PageState::kModified);
}

TEST(PageDirectory, RemoteReadFaultSendsOneReadRequestToTheHome) {
  SimCluster sim = four_nodes();

  sim.fault(1, kPage, Access::kRead);

  ASSERT_EQ(sim.channel(1, 0).size(), 1U);
  EXPECT_EQ(front_type(sim, 1, 0), MessageType::kReadRequest);
}

TEST(PageDirectory, ReadRequestWithNoOwnerIsGrantedSharedWithTheHomeCopy) {
  SimCluster sim = four_nodes();
  sim.memory(0, kPage) = 42;
  sim.fault(1, kPage, Access::kRead);

  ASSERT_TRUE(sim.deliver(1, 0));

  const SimMessage& grant = sim.channel(0, 1).front();
  EXPECT_EQ(grant.message.type, MessageType::kGrant);
  EXPECT_EQ(grant.message.flags, 0);
  EXPECT_EQ(grant.payload, 42U);
  EXPECT_EQ(sim.node(0).directory(kPage).sharers, node_bit(1));
}

TEST(PageDirectory, HomeLocalReadFaultIsResolvedWithoutAnyMessage) {
  SimCluster sim = four_nodes();

  sim.fault(0, kPage, Access::kRead);

  EXPECT_EQ(sim.in_flight(), 0U);
  EXPECT_EQ(sim.mapped(0, kPage), PageState::kShared);
}

TEST(PageDirectory, WriteGrantWaitsForAllInvalidationAcks) {
  SimCluster sim = four_nodes();
  make_sharer(sim, 1);
  make_sharer(sim, 2);
  sim.fault(3, kPage, Access::kWrite);
  ASSERT_TRUE(sim.deliver(3, 0));
  ASSERT_TRUE(sim.deliver(0, 1));  // invalidate node 1
  ASSERT_TRUE(sim.deliver(1, 0));  // its ack

  EXPECT_TRUE(sim.channel(0, 3).empty()) << "granted before node 2 acknowledged";
  ASSERT_TRUE(sim.deliver(0, 2));
  ASSERT_TRUE(sim.deliver(2, 0));

  ASSERT_EQ(sim.channel(0, 3).size(), 1U);
  EXPECT_EQ(sim.channel(0, 3).front().message.flags, wire::kFlagGrantWrite);
}

TEST(PageDirectory, ReadOfAPageModifiedElsewhereFetchesAndDowngradesTheOwner) {
  SimCluster sim = four_nodes();
  make_owner(sim, 1);
  sim.memory(1, kPage) = 7;
  sim.fault(2, kPage, Access::kRead);
  ASSERT_TRUE(sim.deliver(2, 0));

  ASSERT_EQ(front_type(sim, 0, 1), MessageType::kFetch);
  ASSERT_TRUE(sim.settle());

  EXPECT_EQ(sim.mapped(1, kPage), PageState::kShared);
  EXPECT_EQ(sim.mapped(2, kPage), PageState::kShared);
  EXPECT_EQ(sim.memory(2, kPage), 7U);
  EXPECT_EQ(sim.memory(0, kPage), 7U);
}

TEST(PageDirectory, WriteOfAPageModifiedElsewhereFetchInvalidatesTheOwner) {
  SimCluster sim = four_nodes();
  make_owner(sim, 1);
  sim.memory(1, kPage) = 9;
  sim.fault(2, kPage, Access::kWrite);
  ASSERT_TRUE(sim.deliver(2, 0));

  ASSERT_EQ(front_type(sim, 0, 1), MessageType::kFetchInvalidate);
  ASSERT_TRUE(sim.settle());

  EXPECT_EQ(sim.mapped(1, kPage), PageState::kInvalid);
  EXPECT_EQ(sim.mapped(2, kPage), PageState::kModified);
  EXPECT_EQ(sim.memory(2, kPage), 9U);
  EXPECT_EQ(sim.node(0).directory(kPage).owner, NodeId{2});
}

TEST(PageDirectory, UpgradeOfASharedCopyIsGrantedWithoutData) {
  SimCluster sim = four_nodes();
  make_sharer(sim, 1);
  sim.fault(1, kPage, Access::kWrite);
  ASSERT_TRUE(sim.deliver(1, 0));

  ASSERT_EQ(sim.channel(0, 1).size(), 1U);
  EXPECT_FALSE(sim.channel(0, 1).front().message.has_page_data);
  ASSERT_TRUE(sim.deliver(0, 1));
  EXPECT_EQ(sim.mapped(1, kPage), PageState::kModified);
}

TEST(PageDirectory, RequestForABusyPageIsQueuedUntilTheFirstCompletes) {
  SimCluster sim = four_nodes();
  make_sharer(sim, 1);
  sim.fault(2, kPage, Access::kWrite);
  sim.fault(3, kPage, Access::kRead);
  ASSERT_TRUE(sim.deliver(2, 0));  // opens a transaction waiting for node 1's ack

  ASSERT_TRUE(sim.deliver(3, 0));

  EXPECT_TRUE(sim.channel(0, 3).empty());
  EXPECT_EQ(sim.node(0).directory(kPage).queued, 1U);
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.mapped(2, kPage), PageState::kShared);  // downgraded for node 3's read
  EXPECT_EQ(sim.mapped(3, kPage), PageState::kShared);
}

TEST(PageDirectory, HomeLocalWriteInvalidatesRemoteSharers) {
  SimCluster sim = four_nodes();
  make_sharer(sim, 1);

  sim.fault(0, kPage, Access::kWrite);

  ASSERT_EQ(front_type(sim, 0, 1), MessageType::kInvalidate);
  EXPECT_EQ(sim.mapped(0, kPage), PageState::kInvalid);
  ASSERT_TRUE(sim.settle());
  EXPECT_EQ(sim.mapped(0, kPage), PageState::kModified);
  EXPECT_EQ(sim.mapped(1, kPage), PageState::kInvalid);
}

TEST(PageDirectory, RemoteReadOfAPageTheHomeModifiedWriteProtectsTheHome) {
  SimCluster sim = four_nodes();
  make_owner(sim, 0);
  sim.memory(0, kPage) = 5;
  sim.fault(1, kPage, Access::kRead);

  ASSERT_TRUE(sim.deliver(1, 0));

  EXPECT_EQ(sim.mapped(0, kPage), PageState::kShared);
  EXPECT_EQ(sim.channel(0, 1).front().payload, 5U);
}

TEST(PageDirectory, RejectsASecondRequestFromTheSameNode) {
  SimCluster sim = four_nodes();
  make_sharer(sim, 1);
  sim.fault(2, kPage, Access::kWrite);
  ASSERT_TRUE(sim.deliver(2, 0));
  Actions actions;

  const auto status = sim.node(0).on_message(
      2, Message{.type = MessageType::kReadRequest, .sender = 2, .page = kPage}, sim.now(),
      actions);

  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().what,
            "ReadRequest from node 2 for page 0: a second request while one is in progress");
}

TEST(PageDirectory, RejectsAnAckWithoutAPendingInvalidation) {
  SimCluster sim = four_nodes();
  Actions actions;

  const auto status = sim.node(0).on_message(
      1, Message{.type = MessageType::kInvalidateAck, .sender = 1, .page = kPage}, sim.now(),
      actions);

  EXPECT_FALSE(status.has_value());
}

TEST(PageDirectory, RejectsAFetchReplyFromANodeThatIsNotTheOwner) {
  SimCluster sim = four_nodes();
  make_owner(sim, 1);
  sim.fault(2, kPage, Access::kRead);
  ASSERT_TRUE(sim.deliver(2, 0));
  Actions actions;

  const auto status = sim.node(0).on_message(3,
                                             Message{.type = MessageType::kFetchReply,
                                                     .sender = 3,
                                                     .page = kPage,
                                                     .request_id = 2,
                                                     .has_page_data = true},
                                             sim.now(), actions);

  EXPECT_FALSE(status.has_value());
  EXPECT_TRUE(actions.empty());
}

TEST(PageDirectory, RejectsARequestForAPageHomedElsewhere) {
  SimCluster sim = four_nodes();
  Actions actions;

  const auto status = sim.node(0).on_message(
      1, Message{.type = MessageType::kReadRequest, .sender = 1, .page = 1}, sim.now(), actions);

  EXPECT_FALSE(status.has_value());
}

TEST(PageDirectory, RejectsAMessageWhoseSenderFieldLies) {
  SimCluster sim = four_nodes();
  Actions actions;

  const auto status = sim.node(0).on_message(
      1, Message{.type = MessageType::kReadRequest, .sender = 2, .page = kPage}, sim.now(),
      actions);

  EXPECT_FALSE(status.has_value());
}

}  // namespace
}  // namespace heca::coherence::testing

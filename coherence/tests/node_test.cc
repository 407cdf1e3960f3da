// The node runtime against a recording transport: bad input is fatal for the peer that sent
// it, never a crash and never a corrupted page; lost peers are named.
#include "coherence/node.h"

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

namespace heca::coherence {
namespace {

constexpr std::uint64_t kPages = 8;  // 0..3 homed on node 0 (this node), 4..7 on node 1

struct Sent {
  NodeId to;
  wire::Header header;
  std::vector<std::uint8_t> payload;
};

class RecordingTransport final : public Transport {
 public:
  Status send(NodeId to, const wire::Header& header,
              std::span<const std::uint8_t> payload) override {
    sent.push_back({to, header, {payload.begin(), payload.end()}});
    return {};
  }
  NodeId self() const override { return 0; }
  void disconnect(NodeId peer, const Error& /*why*/) override { disconnected.push_back(peer); }
  std::vector<NodeId> disconnected;
  std::vector<Sent> sent;
};

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto memfd = kernel::MemfdRegion::create(kPages * kPageSize, "node-test");
    ASSERT_TRUE(memfd.has_value());
    region_.emplace(std::move(*memfd));
    auto userfault = kernel::Uffd::create(*region_);
    if (!userfault) GTEST_SKIP() << "userfaultfd unavailable: " << userfault.error().message();
    uffd_.emplace(std::move(*userfault));
    auto event_loop = EventLoop::create();
    ASSERT_TRUE(event_loop.has_value());
    loop_.emplace(std::move(*event_loop));
    node_.emplace(*loop_, *region_, *uffd_,
                  Node::Options{.protocol = {.self = 0, .homes = HomeMap::even_ranges(kPages, 2)},
                                .peer_names = {"127.0.0.1:1", "127.0.0.1:2"},
                                .on_fatal = [this](const std::string& why) { fatal_ = why; }});
    node_->set_transport(transport_);
  }

  void deliver(const wire::Message& message, std::span<const std::uint8_t> payload = {}) {
    node_->on_message(1, wire::to_header(message), payload);
  }

  std::optional<kernel::MemfdRegion> region_;
  std::optional<kernel::Uffd> uffd_;
  std::optional<EventLoop> loop_;
  RecordingTransport transport_;
  std::optional<Node> node_;
  std::optional<std::string> fatal_;
};

TEST_F(NodeTest, UnknownMessageTypeIsFatalAndNamesThePeer) {
  node_->on_message(1, wire::Header{.type = 42, .sender = 1}, {});

  ASSERT_TRUE(fatal_.has_value());
  EXPECT_EQ(*fatal_, "node 1 (127.0.0.1:2) sent a malformed message: unknown coherence message type 42 (0x2a)");
}

TEST_F(NodeTest, MalformedMessageClosesThatPeersConnection) {
  node_->on_message(1, wire::Header{.type = 42, .sender = 1}, {});

  EXPECT_EQ(transport_.disconnected, std::vector<NodeId>{1});
}

TEST_F(NodeTest, UnexpectedGrantDataNeverReachesTheEngineView) {
  const wire::Message grant{.type = wire::MessageType::kGrant,
                            .sender = 1,
                            .page = 5,
                            .request_id = 1,
                            .has_page_data = true};
  const std::vector<std::uint8_t> junk(kPageSize, 0xab);

  const auto destination = node_->payload_destination(1, wire::to_header(grant));
  deliver(grant, junk);

  EXPECT_TRUE(destination.empty());
  ASSERT_TRUE(fatal_.has_value());
  EXPECT_NE(fatal_->find("broke the protocol"), std::string::npos) << *fatal_;
  EXPECT_EQ(region_->engine_view()[5 * kPageSize], 0);
}

TEST_F(NodeTest, LostPeerIsReportedByIdAndAddress) {
  node_->on_peer_lost(1, Error{0, "connection reset"});

  ASSERT_TRUE(fatal_.has_value());
  EXPECT_EQ(*fatal_, "lost node 1 (127.0.0.1:2): connection reset");
}

TEST_F(NodeTest, PeerLeavingAfterItsFinalBarrierIsNotAnError) {
  deliver({.type = wire::MessageType::kBarrier,
           .flags = wire::kFlagFinalBarrier,
           .sender = 1,
           .request_id = 1});

  node_->on_peer_lost(1, Error{0, "connection closed by peer (EOF)"});

  EXPECT_FALSE(fatal_.has_value());
}

TEST_F(NodeTest, RemoteReadRequestIsGrantedWithTheHomePage) {
  std::memset(region_->engine_view() + 2 * kPageSize, 0x5a, kPageSize);

  deliver({.type = wire::MessageType::kReadRequest, .sender = 1, .page = 2, .request_id = 9});

  ASSERT_EQ(transport_.sent.size(), 1U);
  const Sent& grant = transport_.sent.front();
  EXPECT_EQ(grant.to, 1);
  EXPECT_EQ(grant.header.type, static_cast<std::uint8_t>(wire::MessageType::kGrant));
  EXPECT_EQ(grant.header.request_id, 9U);
  ASSERT_EQ(grant.payload.size(), kPageSize);
  EXPECT_EQ(grant.payload[100], 0x5a);
  EXPECT_FALSE(fatal_.has_value());
}

TEST_F(NodeTest, BarrierCompletesOnceEveryPeerHasReachedIt) {
  bool done = false;
  node_->arrive(1, false, [&] { done = true; });
  ASSERT_EQ(transport_.sent.size(), 1U);
  EXPECT_FALSE(done);

  deliver({.type = wire::MessageType::kBarrier, .sender = 1, .request_id = 1});

  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace heca::coherence

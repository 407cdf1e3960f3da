// NodeLinks between two in-process nodes on loopback: forwarded I/O reaches the I/O node's bus,
// interrupts reach the owner with their kind, and the guest's exit reaches the compute node.
#include "vmm/node/node_links.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coherence/tests/raw_peer.h"
#include "tests/support/loopback_ports.h"

namespace heca::vmm::node {
namespace {

using namespace std::chrono_literals;

// A one-byte register: writes store, reads return the last write.
class Register final : public io::IoDevice {
 public:
  void read(std::uint64_t, std::span<std::uint8_t> data) override { data[0] = value_.load(); }
  void write(std::uint64_t, std::span<const std::uint8_t> data) override { value_ = data[0]; }

 private:
  std::atomic<std::uint8_t> value_{0};
};

struct Received {
  std::mutex mu;
  std::vector<std::tuple<IpiKind, std::uint32_t, std::uint8_t>> ipis;
  std::atomic<std::uint32_t> exit_code{0xFFFFFFFF};
  std::atomic<std::uint32_t> stop_from{0xFFFFFFFF};
  std::atomic<std::uint32_t> stop_code{0xFFFFFFFF};
};

template <typename Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class NodeLinksPair : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        bus_.add(io::AddressSpace::kPio, 0x80, 1, std::make_shared<Register>()).has_value());
    const auto ports = testing::ReservedPorts::consecutive(2);
    std::vector<coherence::PeerAddress> peers{{0, "127.0.0.1", ports[0]},
                                              {1, "127.0.0.1", ports[1]}};
    auto config = [&](NodeId self, Received& r) {
      return NodeLinksConfig{.self = self,
                             .io_node = 0,
                             .peers = peers,
                             .bus = &bus_,
                             .connect_timeout = 5000ms,
                             .on_guest_exit = [&r](std::uint32_t code) { r.exit_code = code; },
                             .on_ipi =
                                 [&r](IpiKind k, std::uint32_t apic, std::uint8_t v) {
                                   std::lock_guard lock(r.mu);
                                   r.ipis.emplace_back(k, apic, v);
                                 },
                             .on_link_failed = [](const std::string&) {},
                             .on_guest_stop =
                                 [&r](NodeId from, std::uint32_t code) {
                                   r.stop_code = code;
                                   r.stop_from = from;
                                 }};
    };
    auto io =
        std::async(std::launch::async, [&] { return NodeLinks::connect(config(0, io_seen_)); });
    auto compute = NodeLinks::connect(config(1, compute_seen_));
    auto io_links = io.get();
    ASSERT_TRUE(io_links.has_value()) << io_links.error().message();
    ASSERT_TRUE(compute.has_value()) << compute.error().message();
    io_ = std::move(*io_links);
    compute_ = std::move(*compute);
  }

  io::IoBus bus_;
  Received io_seen_;
  Received compute_seen_;
  std::unique_ptr<NodeLinks> io_;
  std::unique_ptr<NodeLinks> compute_;
};

TEST_F(NodeLinksPair, AGuestStopOnAComputeNodeReachesTheIoNodeWithItsCode) {
  compute_->broadcast_guest_stop(123);

  ASSERT_TRUE(eventually([&] { return io_seen_.stop_code.load() != 0xFFFFFFFF; }));
  EXPECT_EQ(io_seen_.stop_code.load(), 123U);
  EXPECT_EQ(io_seen_.stop_from.load(), 1U);
}

TEST_F(NodeLinksPair, AGuestStopFromTheIoNodeReachesTheComputeNode) {
  io_->broadcast_guest_stop(124);

  ASSERT_TRUE(eventually([&] { return compute_seen_.stop_code.load() != 0xFFFFFFFF; }));
  EXPECT_EQ(compute_seen_.stop_code.load(), 124U);
  EXPECT_EQ(compute_seen_.stop_from.load(), 0U);
}

TEST_F(NodeLinksPair, ForwardedPioReachesTheIoNodesDevice) {
  const std::uint8_t value = 0x5A;
  std::uint8_t read_back = 0;

  const bool wrote = compute_->forward_write(io::AddressSpace::kPio, 0x80, {&value, 1});
  const bool read = compute_->forward_read(io::AddressSpace::kPio, 0x80, {&read_back, 1});

  EXPECT_TRUE(wrote);
  EXPECT_TRUE(read);
  EXPECT_EQ(read_back, 0x5A);
}

TEST_F(NodeLinksPair, InterruptsArriveAtTheOwnerInOrderWithTheirKind) {
  io_->send_ipi(1, IpiKind::kInit, 3, 0);
  io_->send_ipi(1, IpiKind::kSipi, 3, 0x08);
  io_->send_ipi(1, IpiKind::kFixed, 3, 0xEC);
  compute_->send_ipi(0, IpiKind::kNmi, 1, 0);

  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(compute_seen_.mu);
    return compute_seen_.ipis.size() == 3;
  }));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(io_seen_.mu);
    return io_seen_.ipis.size() == 1;
  }));
  std::lock_guard lock(compute_seen_.mu);
  EXPECT_EQ(compute_seen_.ipis[0], std::make_tuple(IpiKind::kInit, 3u, std::uint8_t{0}));
  EXPECT_EQ(compute_seen_.ipis[1], std::make_tuple(IpiKind::kSipi, 3u, std::uint8_t{0x08}));
  EXPECT_EQ(compute_seen_.ipis[2], std::make_tuple(IpiKind::kFixed, 3u, std::uint8_t{0xEC}));
  EXPECT_EQ(io_seen_.ipis[0], std::make_tuple(IpiKind::kNmi, 1u, std::uint8_t{0}));
}

TEST_F(NodeLinksPair, GuestExitReachesTheComputeNode) {
  io_->broadcast_guest_exit(7);

  EXPECT_TRUE(eventually([&] { return compute_seen_.exit_code == 7; }));
}

}  // namespace
}  // namespace heca::vmm::node

namespace heca::vmm::node {
namespace {

// Both ends share this host's TSC, so the true offset is 0: the reply's TSC was read between
// the probe's send and the reply's arrival, hence |offset| <= half that round trip.
TEST_F(NodeLinksPair, TscProbesOnOneHostFindNoOffsetBeyondTheirUncertainty) {
  auto tsc = compute_->measure_tsc_offset(0, 16, 5000ms);

  ASSERT_TRUE(tsc.has_value()) << tsc.error().message();
  EXPECT_GT(tsc->uncertainty, 0u);
  const std::uint64_t magnitude = tsc->offset < 0 ? static_cast<std::uint64_t>(-tsc->offset)
                                                  : static_cast<std::uint64_t>(tsc->offset);
  EXPECT_LE(magnitude, tsc->uncertainty);
}

TEST_F(NodeLinksPair, TscProbeOfAGoneNodeFailsNamingIt) {
  io_->shut_down();

  auto tsc = compute_->measure_tsc_offset(0, 2, 300ms);

  ASSERT_FALSE(tsc.has_value());
  EXPECT_NE(tsc.error().message().find("node 0 did not answer a clock probe"), std::string::npos)
      << tsc.error().message();
}

// Real compute nodes 1 and 2; the I/O node 0 is played by raw sockets (it connects to both,
// being the lowest id), so a test can send them any frame.
class NodeLinksWithRawIoNode : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto ports = testing::ReservedPorts::consecutive(3);
    std::vector<coherence::PeerAddress> peers{
        {0, "127.0.0.1", ports[0]}, {1, "127.0.0.1", ports[1]}, {2, "127.0.0.1", ports[2]}};
    auto config = [&](NodeId self) {
      return NodeLinksConfig{.self = self,
                             .io_node = 0,
                             .peers = peers,
                             .connect_timeout = 5000ms,
                             .on_guest_exit = [](std::uint32_t) {},
                             .on_ipi = [this](IpiKind, std::uint32_t, std::uint8_t) { ++ipis_; },
                             .on_link_failed =
                                 [this, self](const std::string& why) {
                                   std::lock_guard lock(mu_);
                                   failures_[self] += why + "\n";
                                 },
                             .on_guest_stop = [](NodeId, std::uint32_t) {}};
    };
    auto one = std::async(std::launch::async, [&] { return NodeLinks::connect(config(1)); });
    auto two = std::async(std::launch::async, [&] { return NodeLinks::connect(config(2)); });
    for (std::size_t i = 0; i < 2; ++i) {
      // The real nodes listen once NodeLinks::connect has created their transports.
      for (int tries = 0; tries < 500 && !raw_[i].fd; ++tries) {
        std::this_thread::sleep_for(10ms);
        raw_[i] = coherence::testing::try_raw_connect(ports[i + 1], 0);
      }
      ASSERT_TRUE(raw_[i].fd) << "node " << i + 1 << " never listened";
      ASSERT_TRUE(coherence::testing::raw_handshake(raw_[i]));
    }
    auto a = one.get();
    auto b = two.get();
    ASSERT_TRUE(a.has_value()) << a.error().message();
    ASSERT_TRUE(b.has_value()) << b.error().message();
    one_ = std::move(*a);
    two_ = std::move(*b);
  }

  void send(std::size_t node, const coherence::wire::Header& header) {
    std::array<std::uint8_t, coherence::wire::kHeaderSize> bytes{};
    coherence::wire::encode_header(header, bytes);
    ASSERT_EQ(::write(raw_[node - 1].get(), bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
  }
  std::string failures(NodeId node) {
    std::lock_guard lock(mu_);
    return failures_[node];
  }

  std::mutex mu_;
  std::map<NodeId, std::string> failures_;
  std::atomic<int> ipis_{0};
  std::array<coherence::testing::RawPeer, 2> raw_;
  std::unique_ptr<NodeLinks> one_;
  std::unique_ptr<NodeLinks> two_;
};

TEST_F(NodeLinksWithRawIoNode, AMalformedLinkMessageClosesThatLinkNamingItAndIsNotActedOn) {
  coherence::wire::Header bad =
      encode_link(ForwardedInterrupt{.kind = IpiKind::kFixed, .apic_id = 1, .vector = 0x30}, 0);
  bad.flags = 9;

  send(1, bad);

  ASSERT_TRUE(eventually([&] { return !failures(1).empty(); }));
  EXPECT_NE(failures(1).find("lost node 0"), std::string::npos) << failures(1);
  EXPECT_NE(failures(1).find("node 0 sent malformed link message (forwarded interrupt, type 0x50): "
                             "flags (IPI kind) 0x9 is above 0x3"),
            std::string::npos)
      << failures(1);
  EXPECT_EQ(ipis_.load(), 0);
  EXPECT_TRUE(failures(2).empty()) << failures(2);
}

TEST_F(NodeLinksWithRawIoNode, AnUnknownFrameTypeClosesThatLinkNamingIt) {
  send(2, coherence::wire::Header{.type = 0x5E, .sender = 0});

  ASSERT_TRUE(eventually([&] { return !failures(2).empty(); }));
  EXPECT_NE(failures(2).find("node 0 sent unknown link message type 94 (0x5e)"),
            std::string::npos)
      << failures(2);
}

TEST_F(NodeLinksWithRawIoNode, AWellFormedInterruptFromTheRawNodeArrives) {
  send(1,
       encode_link(ForwardedInterrupt{.kind = IpiKind::kFixed, .apic_id = 1, .vector = 0x30}, 0));

  EXPECT_TRUE(eventually([&] { return ipis_.load() == 1; }));
  EXPECT_TRUE(failures(1).empty()) << failures(1);
}

}  // namespace
}  // namespace heca::vmm::node

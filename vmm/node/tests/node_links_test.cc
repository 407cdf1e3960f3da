// NodeLinks between two in-process nodes on loopback: forwarded I/O reaches the I/O node's bus,
// interrupts reach the owner with their kind, and the guest's exit reaches the compute node.
#include "vmm/node/node_links.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

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
    ASSERT_TRUE(bus_.add(io::AddressSpace::kPio, 0x80, 1, std::make_shared<Register>()).has_value());
    const auto ports = testing::free_loopback_ports(2);
    std::vector<coherence::PeerAddress> peers{{0, "127.0.0.1", ports[0]}, {1, "127.0.0.1", ports[1]}};
    auto config = [&](NodeId self, Received& r) {
      return NodeLinksConfig{
          .self = self, .io_node = 0, .peers = peers, .bus = &bus_,
          .connect_timeout = 5000ms,
          .on_guest_exit = [&r](std::uint32_t code) { r.exit_code = code; },
          .on_ipi = [&r](IpiKind k, std::uint32_t apic, std::uint8_t v) {
            std::lock_guard lock(r.mu);
            r.ipis.emplace_back(k, apic, v);
          },
          .on_link_failed = [](const std::string&) {},
          .on_guest_stop = [&r](NodeId from, std::uint32_t code) {
            r.stop_code = code;
            r.stop_from = from;
          }};
    };
    auto io = std::async(std::launch::async, [&] { return NodeLinks::connect(config(0, io_seen_)); });
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

}  // namespace
}  // namespace heca::vmm::node

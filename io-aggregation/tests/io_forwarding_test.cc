#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "io-aggregation/debug_exit.h"
#include "io-aggregation/tests/io_cluster.h"

namespace heca::io {
namespace {

using namespace std::chrono_literals;
using testing::IoCluster;
using testing::kScratchBase;
using testing::kUartPort;
using testing::kUnclaimedPort;
using testing::kValuePort;

constexpr int kThreads = 4;
constexpr int kBytesPerThread = 50;

// Thread t writes bytes t*kBytesPerThread .. t*kBytesPerThread+49 to the UART's THR in order.
Status write_sequence(IoForwarder& forwarder, int thread) {
  for (int i = 0; i < kBytesPerThread; ++i) {
    const std::array<std::uint8_t, 1> byte{static_cast<std::uint8_t>(thread * kBytesPerThread + i)};
    if (auto ok = forwarder.write(AddressSpace::kPio, kUartPort, byte); !ok) return ok;
  }
  return {};
}

// The bytes thread t wrote, in console order.
std::vector<int> bytes_of_thread(const std::string& console, int thread) {
  std::vector<int> seen;
  for (const char c : console) {
    const int value = static_cast<std::uint8_t>(c);
    if (value / kBytesPerThread == thread) seen.push_back(value % kBytesPerThread);
  }
  return seen;
}

std::vector<int> zero_to(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

TEST(IoForwarding, UartWritesFromFourThreadsAppearOnceInOrder) {
  IoCluster cluster(2);
  ASSERT_TRUE(cluster.start());
  std::vector<std::future<Status>> writers;

  for (int t = 0; t < kThreads; ++t) {
    IoForwarder& forwarder = cluster.forwarder(static_cast<NodeId>(1 + t % 2));
    writers.push_back(std::async(std::launch::async, write_sequence, std::ref(forwarder), t));
  }
  for (auto& w : writers) ASSERT_TRUE(w.get().has_value());

  const std::string console = cluster.console();
  EXPECT_EQ(console.size(), static_cast<std::size_t>(kThreads * kBytesPerThread));
  EXPECT_EQ(bytes_of_thread(console, 0), zero_to(kBytesPerThread));
  EXPECT_EQ(bytes_of_thread(console, 1), zero_to(kBytesPerThread));
  EXPECT_EQ(bytes_of_thread(console, 2), zero_to(kBytesPerThread));
  EXPECT_EQ(bytes_of_thread(console, 3), zero_to(kBytesPerThread));
}

TEST(IoForwarding, PioReadReturnsTheDeviceValue) {
  IoCluster cluster(1);
  ASSERT_TRUE(cluster.start());
  std::array<std::uint8_t, 4> value{};

  const Status read = cluster.forwarder(1).read(AddressSpace::kPio, kValuePort, value);

  ASSERT_TRUE(read.has_value()) << read.error().message();
  EXPECT_EQ(value, (std::array<std::uint8_t, 4>{0x10, 0x11, 0x12, 0x13}));
  EXPECT_EQ(cluster.forwarder(1).stats().reads, 1U);
}

TEST(IoForwarding, UartScratchRegisterWrittenFromOneNodeIsReadFromAnother) {
  IoCluster cluster(2);
  ASSERT_TRUE(cluster.start());
  const std::array<std::uint8_t, 1> written{0x5a};
  std::array<std::uint8_t, 1> read{};

  ASSERT_TRUE(cluster.forwarder(1).write(AddressSpace::kPio, kUartPort + 7, written));
  ASSERT_TRUE(cluster.forwarder(2).read(AddressSpace::kPio, kUartPort + 7, read));

  EXPECT_EQ(read, written);
}

TEST(IoForwarding, MmioWriteThenReadRoundTripsEightBytes) {
  IoCluster cluster(1);
  ASSERT_TRUE(cluster.start());
  const std::array<std::uint8_t, 8> written{1, 2, 3, 4, 5, 6, 7, 8};
  std::array<std::uint8_t, 8> read{};

  ASSERT_TRUE(cluster.forwarder(1).write(AddressSpace::kMmio, kScratchBase + 0x40, written));
  ASSERT_TRUE(cluster.forwarder(1).read(AddressSpace::kMmio, kScratchBase + 0x40, read));

  EXPECT_EQ(read, written);
}

TEST(IoForwarding, UnclaimedAccessOnTheIoNodeReadsAllOnesAndDropsWrites) {
  IoCluster cluster(1);
  ASSERT_TRUE(cluster.start());
  std::array<std::uint8_t, 2> value{};
  const std::array<std::uint8_t, 4> ignored{9, 9, 9, 9};

  ASSERT_TRUE(cluster.forwarder(1).read(AddressSpace::kPio, kUnclaimedPort, value));
  ASSERT_TRUE(cluster.forwarder(1).write(AddressSpace::kMmio, 0x1234'0000, ignored));

  EXPECT_EQ(value, (std::array<std::uint8_t, 2>{0xff, 0xff}));
  EXPECT_EQ(cluster.forwarder(1).stats().unclaimed, 2U);
  EXPECT_EQ(cluster.server().stats().unclaimed_reads, 1U);
  EXPECT_EQ(cluster.server().stats().unclaimed_writes, 1U);
}

TEST(IoForwarding, AccessSizeNotForwardableFailsWithoutSending) {
  IoCluster cluster(1);
  ASSERT_TRUE(cluster.start());
  std::array<std::uint8_t, 8> value{};

  const Status read = cluster.forwarder(1).read(AddressSpace::kPio, kValuePort, value);

  ASSERT_FALSE(read.has_value());
  EXPECT_NE(read.error().what.find("8-byte PIO"), std::string::npos);
}

TEST(IoForwarding, LosingTheIoNodeWhileAVcpuWaitsFailsTheWaitNamingTheNode) {
  IoCluster cluster(1, /*silent_io_node=*/true);
  ASSERT_TRUE(cluster.start());
  auto waiting = std::async(std::launch::async, [&] {
    std::array<std::uint8_t, 1> value{};
    return cluster.forwarder(1).read(AddressSpace::kPio, kValuePort, value);
  });
  ASSERT_TRUE(testing::wait_for([&] { return cluster.silent_requests() == 1; }));
  const auto killed_at = std::chrono::steady_clock::now();

  cluster.kill(0);

  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  const Status result = waiting.get();
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 5s);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().what.find("I/O node 0"), std::string::npos) << result.error().what;
  EXPECT_TRUE(cluster.events(1).saw("link lost the link to I/O node 0"));
}

TEST(IoForwarding, AccessAfterTheLinkIsLostFailsAtOnce) {
  IoCluster cluster(1);
  ASSERT_TRUE(cluster.start());
  cluster.kill(0);
  ASSERT_TRUE(cluster.events(1).saw("I/O node 0"));
  std::array<std::uint8_t, 1> value{};

  const Status read = cluster.forwarder(1).read(AddressSpace::kPio, kValuePort, value);

  ASSERT_FALSE(read.has_value());
  EXPECT_NE(read.error().what.find("I/O node 0"), std::string::npos);
}

TEST(IoForwarding, RequestStopWakesAWaitingVcpuThread) {
  IoCluster cluster(1, /*silent_io_node=*/true);
  ASSERT_TRUE(cluster.start());
  auto waiting = std::async(std::launch::async, [&] {
    std::array<std::uint8_t, 1> value{};
    return cluster.forwarder(1).read(AddressSpace::kPio, kValuePort, value);
  });
  ASSERT_TRUE(testing::wait_for([&] { return cluster.silent_requests() == 1; }));

  cluster.forwarder(1).request_stop("guest is stopping");

  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  const Status result = waiting.get();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().what, "guest is stopping");
}

TEST(IoForwarding, ReplyLaterThanTheTimeoutFailsTheAccess) {
  IoCluster cluster(1, /*silent_io_node=*/true, 100ms);
  ASSERT_TRUE(cluster.start());
  std::array<std::uint8_t, 1> value{};

  const Status read = cluster.forwarder(1).read(AddressSpace::kPio, kValuePort, value);

  ASSERT_FALSE(read.has_value());
  EXPECT_NE(read.error().what.find("no reply from I/O node 0 within 100 ms"), std::string::npos);
  EXPECT_EQ(cluster.forwarder(1).stats().failed, 1U);
}

TEST(IoForwarding, DebugExitWriteOnOneNodeSendsGuestExitToEveryNode) {
  IoCluster cluster(2);
  ASSERT_TRUE(cluster.start());
  const std::array<std::uint8_t, 4> code{7, 0, 0, 0};

  ASSERT_TRUE(cluster.forwarder(2).write(AddressSpace::kPio, DebugExitDevice::kBasePort, code));

  EXPECT_TRUE(cluster.events(1).saw("exit 7"));
  EXPECT_TRUE(cluster.events(2).saw("exit 7"));
}

TEST(IoForwarding, ForwardedPioRoundTripLatency) {
  IoCluster cluster(1);
  ASSERT_TRUE(cluster.start());
  constexpr int kRoundTrips = 2000;
  std::array<std::uint8_t, 1> value{};

  for (int i = 0; i < kRoundTrips; ++i) {
    ASSERT_TRUE(cluster.forwarder(1).read(AddressSpace::kPio, kValuePort, value));
  }

  const LatencySummary rtt = cluster.forwarder(1).stats().round_trip;
  std::printf(
      "forwarded PIO read round trip over %llu: p50 %.1f us, mean %.1f us, p99 %.1f us\n",
      static_cast<unsigned long long>(rtt.samples), static_cast<double>(rtt.p50.count()) / 1e3,
      static_cast<double>(rtt.mean.count()) / 1e3, static_cast<double>(rtt.p99.count()) / 1e3);
  EXPECT_EQ(rtt.samples, static_cast<std::uint64_t>(kRoundTrips));
}

}  // namespace
}  // namespace heca::io

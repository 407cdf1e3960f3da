#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "coherence/fault_injection_transport.h"
#include "coherence/tests/transport_test_util.h"

namespace heca::coherence {
namespace {

using namespace std::chrono_literals;
using testing::make_header;

// Records what reaches the wire, in order.
class RecordingTransport : public Transport {
 public:
  Status send(NodeId to, const wire::Header& header,
              std::span<const std::uint8_t> payload) override {
    sent.push_back({to, header.request_id, {payload.begin(), payload.end()}});
    return {};
  }
  NodeId self() const override { return 0; }
  void disconnect(NodeId peer, const Error& /*why*/) override { disconnected.push_back(peer); }
  std::vector<NodeId> disconnected;
  struct Sent {
    NodeId to;
    std::uint64_t request_id;
    std::vector<std::uint8_t> payload;
  };
  std::vector<Sent> sent;
};

struct Harness {
  Harness()
      : loop(std::move(*EventLoop::create())), faulty(loop, inner, {.max_delay = 2ms, .seed = 7}) {}
  void send_alternating(std::uint64_t count) {
    for (std::uint64_t seq = 0; seq < count; ++seq) {
      const std::vector<std::uint8_t> payload{static_cast<std::uint8_t>(seq)};
      const NodeId to = seq % 2 == 0 ? 1 : 2;
      EXPECT_TRUE(faulty.send(to, make_header(0, 1, seq, 1), payload).has_value());
    }
  }
  void drain() {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (faulty.delayed_count() > 0 && std::chrono::steady_clock::now() < deadline) {
      EXPECT_TRUE(loop.run_once(10ms).has_value());
    }
  }
  EventLoop loop;
  RecordingTransport inner;
  FaultInjectionTransport faulty;
};

TEST(FaultInjectionTransport, KeepsPerPeerFifoOrder) {
  Harness h;

  h.send_alternating(200);
  h.drain();

  ASSERT_EQ(h.inner.sent.size(), 200u);
  std::map<NodeId, std::uint64_t> last;
  for (const auto& s : h.inner.sent) {
    EXPECT_TRUE(!last.contains(s.to) || last[s.to] < s.request_id);
    last[s.to] = s.request_id;
    EXPECT_EQ(s.payload, std::vector<std::uint8_t>{static_cast<std::uint8_t>(s.request_id)});
  }
}

TEST(FaultInjectionTransport, ReordersMessagesAcrossPeers) {
  Harness h;

  h.send_alternating(200);
  h.drain();

  std::size_t out_of_order = 0;
  for (std::size_t i = 1; i < h.inner.sent.size(); ++i) {
    if (h.inner.sent[i].request_id < h.inner.sent[i - 1].request_id) ++out_of_order;
  }
  EXPECT_GT(out_of_order, 0u);
}

TEST(FaultInjectionTransport, NothingIsSentBeforeTheLoopRuns) {
  Harness h;

  h.send_alternating(4);

  EXPECT_TRUE(h.inner.sent.empty());
  EXPECT_EQ(h.faulty.delayed_count(), 4u);
}

}  // namespace
}  // namespace heca::coherence

// One node of the network-namespace transport test: connects to every other node, sends each a
// numbered stream, checks the streams it receives are complete and in order, then exits 0.
// Usage: transport_netns_node SELF NODES PORT COUNT   (node i listens on 10.77.0.(1+i):PORT)
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "coherence/tcp_transport.h"
#include "coherence/tests/transport_test_util.h"
#include "kernel/base/log.h"

namespace heca::coherence {
namespace {

constexpr std::uint8_t kData = 1;
constexpr std::uint8_t kDone = 2;  // "I received all of your stream"; the last frame each way

// Follows every stream; answers a complete stream with kDone.
class StreamChecker : public TransportHandler {
 public:
  StreamChecker(NodeId self, int nodes, std::uint64_t count)
      : self_(self), nodes_(nodes), count_(count) {}
  void attach(Transport& transport) { transport_ = &transport; }
  std::span<std::uint8_t> payload_destination(NodeId, const wire::Header&) override { return {}; }
  void on_message(NodeId from, const wire::Header& header,
                  std::span<const std::uint8_t> payload) override {
    if (header.type == kDone) {
      ++done_from_;
      return;
    }
    if (header.request_id != next_[from]++ || payload.size() != header.request_id % 64) {
      failed_ = "stream from node " + std::to_string(from) + " out of order or corrupt";
      return;
    }
    if (next_[from] == count_ &&
        !transport_->send(from, testing::make_header(self_, kDone, 0, 0), {})) {
      failed_ = "sending done to node " + std::to_string(from);
    }
  }
  void on_peer_lost(NodeId peer, const Error& why) override {
    if (next_[peer] < count_) failed_ = "lost node " + std::to_string(peer) + ": " + why.message();
  }
  [[nodiscard]] bool finished() const {
    std::uint64_t complete = 0;
    for (const auto& [peer, next] : next_) complete += next == count_ ? 1 : 0;
    return done_from_ == nodes_ - 1 && complete == static_cast<std::uint64_t>(nodes_ - 1);
  }
  [[nodiscard]] const std::string& failed() const { return failed_; }

 private:
  NodeId self_;
  int nodes_;
  std::uint64_t count_;
  Transport* transport_ = nullptr;
  std::map<NodeId, std::uint64_t> next_;
  int done_from_ = 0;
  std::string failed_;
};

int run_node(NodeId self, int nodes, std::uint16_t port, std::uint64_t count) {
  TcpTransportConfig config{.self = self, .peers = {}, .connect_timeout = std::chrono::seconds(15)};
  for (int i = 0; i < nodes; ++i) {
    config.peers.push_back({static_cast<NodeId>(i), "10.77.0." + std::to_string(1 + i), port});
  }
  auto loop = EventLoop::create();
  if (!loop) return spdlog::error("{}", loop.error().message()), 2;
  StreamChecker checker(self, nodes, count);
  auto transport = TcpTransport::create(*loop, config, checker);
  if (!transport) return spdlog::error("{}", transport.error().message()), 2;
  checker.attach(**transport);
  if (auto s = (*transport)->connect_all(); !s) return spdlog::error("{}", s.error().message()), 2;
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    for (int to = 0; to < nodes; ++to) {
      if (to == self) continue;
      const std::vector<std::uint8_t> payload(seq % 64, static_cast<std::uint8_t>(seq));
      if (!(*transport)
               ->send(static_cast<NodeId>(to),
                      testing::make_header(self, kData, seq, payload.size()), payload))
        return 3;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!(checker.finished() && (*transport)->queued_bytes() == 0) && checker.failed().empty()) {
    if (std::chrono::steady_clock::now() > deadline) return spdlog::error("timed out"), 4;
    if (!loop->run_once(std::chrono::milliseconds(10))) return 4;
  }
  if (!checker.failed().empty()) return spdlog::error("{}", checker.failed()), 5;
  return 0;
}

}  // namespace
}  // namespace heca::coherence

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s SELF NODES PORT COUNT\n", argv[0]);
    return 1;
  }
  const auto self = static_cast<heca::coherence::NodeId>(std::atoi(argv[1]));
  heca::log::init(self);
  return heca::coherence::run_node(self, std::atoi(argv[2]),
                                   static_cast<std::uint16_t>(std::atoi(argv[3])),
                                   static_cast<std::uint64_t>(std::atoll(argv[4])));
}

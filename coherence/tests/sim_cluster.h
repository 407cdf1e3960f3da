// SimCluster: N pure Protocol instances joined by an in-memory network for tests.
// One FIFO queue per ordered node pair; the test chooses which pair delivers next.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "coherence/protocol.h"

namespace heca::coherence::testing {

struct SimMessage {
  NodeId from = 0;
  NodeId to = 0;
  wire::Message message;
  std::optional<std::uint64_t> payload;  // the page's contents, one word standing for 4 KiB
};

struct SimConfig {
  std::uint16_t nodes = 2;
  std::uint64_t pages = 4;
  Nanos min_hold{0};
  Nanos max_hold{0};
  std::uint32_t prefetch_window = 0;
  std::optional<HomeMap> homes;  // default: even ranges
  bool home_starts_owner = false;  // homes start Modified, mapped writable (as heca nodes do)
  bool reads_take_ownership = false;  // every node (see ProtocolConfig::reads_take_ownership)
};

// Single-threaded test fixture. Executes every action the protocols emit: Install/Zap/
// WriteProtect update the simulated mappings, Send/StorePayload move page words around.
class SimCluster {
 public:
  explicit SimCluster(const SimConfig& config);

  void fault(NodeId node, PageIndex page, Access access);
  // Delivers the oldest message from `from` to `to`; false when that channel is empty.
  bool deliver(NodeId from, NodeId to);
  // Delivers everything, round-robin over channels, until the network is idle (timers fire
  // as time is advanced by `step` whenever only timers remain). False if still busy after
  // `max_steps`.
  bool settle(Nanos step = std::chrono::microseconds(1), int max_steps = 100000);
  // Delivers on one random non-empty channel; false when the network is empty.
  bool deliver_random(std::mt19937_64& rng);
  void advance(Nanos delta);  // moves time and fires the due timers

  [[nodiscard]] Protocol& node(NodeId node) { return *protocols_[node]; }
  [[nodiscard]] PageState mapped(NodeId node, PageIndex page) const;
  [[nodiscard]] std::uint64_t& memory(NodeId node, PageIndex page) { return memory_[node][page]; }
  [[nodiscard]] const std::deque<SimMessage>& channel(NodeId from, NodeId to) const;
  [[nodiscard]] std::size_t in_flight() const;
  [[nodiscard]] bool timers_pending() const { return !timers_.empty(); }
  [[nodiscard]] const Actions& last_actions(NodeId node) const { return last_actions_[node]; }
  [[nodiscard]] Nanos now() const { return now_; }
  [[nodiscard]] std::uint16_t size() const { return static_cast<std::uint16_t>(protocols_.size()); }
  // At most one node maps the page M, and none maps it S while one maps it M.
  [[nodiscard]] ::testing::AssertionResult swmr(PageIndex page) const;
  [[nodiscard]] std::uint64_t pages() const { return pages_; }

 private:
  struct Timer {
    NodeId node;
    PageIndex page;
    Nanos at;
  };
  void apply(NodeId node, const Actions& actions, const std::optional<std::uint64_t>& payload);
  void fire_due_timers();

  std::uint64_t pages_;
  std::vector<std::unique_ptr<Protocol>> protocols_;
  std::vector<std::vector<PageState>> mapped_;
  std::vector<std::vector<std::uint64_t>> memory_;
  std::map<std::pair<NodeId, NodeId>, std::deque<SimMessage>> channels_;
  std::vector<Actions> last_actions_;
  std::vector<Timer> timers_;
  Nanos now_{1'000'000};
};

}  // namespace heca::coherence::testing

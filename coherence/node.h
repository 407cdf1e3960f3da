// Node: the runtime of one cluster member. It feeds uffd faults, messages and timers into the
// pure Protocol on the event-loop thread and executes the resulting actions.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "coherence/event_loop.h"
#include "coherence/protocol.h"
#include "coherence/transport.h"
#include "kernel/memfd_region.h"
#include "kernel/uffd.h"

namespace heca::coherence {

struct NodeCounters {
  std::array<std::uint64_t, wire::kMaxMessageType + 1> sent{};
  std::array<std::uint64_t, wire::kMaxMessageType + 1> received{};
  std::uint64_t zero_copy_payloads = 0;  // received straight into the engine view

  [[nodiscard]] std::string to_string() const;
};

// Time from reading a fault off the userfaultfd to mapping its page, over the most recent
// kLatencySamples faults (all kinds: local home, remote, upgrades).
struct FaultLatency {
  std::uint64_t faults = 0;  // all faults ever timed
  Nanos p50{0};
  Nanos p90{0};
  Nanos p99{0};
  Nanos max{0};

  [[nodiscard]] std::string to_string() const;
};

// How many hot pages NodeStats lists.
inline constexpr std::size_t kHotPages = 8;

struct NodeStats {
  ProtocolStats protocol;
  NodeCounters messages;
  FaultLatency fault_latency;
  std::vector<HotPage> hot_pages;  // the pages granted to this node most often, most first
  Nanos hold{0};                   // how long a page granted now would be held
};

// Called once, on the loop thread, when the region became unusable (a peer was lost, a peer
// broke the protocol, a uffd operation failed), after the node logged it. Optional: the library
// never ends the process; the application does what its failure policy says.
using FatalHandler = std::function<void(const std::string& why)>;

// Thread-safety: every method runs on the EventLoop's thread, except construction (before the
// loop runs). INVARIANT: loop, region and uffd outlive the Node; the transport is set before
// any fault or message can arrive.
class Node final : public TransportHandler {
 public:
  struct Options {
    ProtocolConfig protocol;
    std::vector<std::string> peer_names;  // "host:port" per node id, for messages
    FatalHandler on_fatal;
  };
  Node(EventLoop& loop, kernel::MemfdRegion& region, kernel::Uffd& uffd, Options options);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  void set_transport(Transport& transport) { transport_ = &transport; }
  // Maps the pages this node is home of when they start owned here, then starts watching the
  // uffd for faults.
  [[nodiscard]] Status start();

  // Barrier: once this node has no request outstanding, tells every peer it reached `epoch`,
  // then calls `done` when every peer has reached it too. A final barrier also marks the
  // peers as leaving: their disconnection afterwards is not an error.
  void arrive(std::uint64_t epoch, bool final, std::function<void()> done);

  [[nodiscard]] NodeStats stats() const {
    return {protocol_.stats(), counters_, fault_latency(), protocol_.hottest_pages(kHotPages),
            protocol_.hold_time()};
  }

  std::span<std::uint8_t> payload_destination(NodeId from, const wire::Header& header) override;
  void on_message(NodeId from, const wire::Header& header,
                  std::span<const std::uint8_t> payload) override;
  void on_peer_lost(NodeId peer, const Error& why) override;

 private:
  [[nodiscard]] Status map_home_pages();
  struct Barrier {
    std::uint64_t epoch = 0;
    bool final = false;
    bool announced = false;
    std::function<void()> done;
  };
  void on_uffd_readable();
  void on_barrier_message(NodeId from, const wire::Message& message);
  void advance_barrier();
  void execute(const Actions& actions, std::span<const std::uint8_t> payload);
  void execute_send(const SendAction& send);
  void arm_timer(const ArmTimerAction& timer);
  void check(const Status& status, const char* what);
  // A peer sent something invalid: close its connection, then fail as for a lost peer.
  void reject_peer(NodeId peer, const std::string& why);
  void fatal(const std::string& why);
  [[nodiscard]] std::span<std::uint8_t> engine_page(PageIndex page) const;
  [[nodiscard]] static Nanos now();
  void fault_resolved(PageIndex page);
  [[nodiscard]] FaultLatency fault_latency() const;

  static constexpr std::size_t kLatencySamples = 4096;

  EventLoop& loop_;
  kernel::MemfdRegion& region_;
  kernel::Uffd& uffd_;
  Options options_;
  Protocol protocol_;
  Transport* transport_ = nullptr;
  NodeCounters counters_;
  Actions actions_;                        // reused: no allocation per event
  std::vector<std::uint64_t> peer_epoch_;  // highest barrier epoch each node announced
  std::vector<bool> peer_leaving_;         // announced its final barrier
  std::optional<Barrier> barrier_;
  bool failed_ = false;
  std::unordered_map<PageIndex, Nanos> fault_started_;  // pages with a fault not yet mapped
  std::vector<Nanos> latency_samples_;                  // ring of the last kLatencySamples
  std::uint64_t timed_faults_ = 0;
};

}  // namespace heca::coherence

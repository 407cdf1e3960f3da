// ClusterMemory: the library API. A process joins a cluster and gets a pointer to a region
// that stays page-coherent across all member processes; its threads just load and store.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coherence/fault_injection_transport.h"
#include "coherence/homing.h"
#include "coherence/node.h"
#include "coherence/peer_auth.h"
#include "coherence/tcp_transport.h"
#include "kernel/base/result.h"

namespace heca::coherence {

enum class Homing : std::uint8_t { kEvenRanges, kInterleave, kExplicit };

struct ClusterConfig {
  NodeId self = 0;
  std::vector<PeerAddress> peers;  // every node, self included, indexed by id
  std::size_t region_size = 64 << 20;
  Homing homing = Homing::kEvenRanges;
  std::uint64_t interleave_stride = 1;  // pages per block, for kInterleave
  std::vector<HomeRange> home_ranges;   // for kExplicit
  std::uint32_t prefetch_window = 0;
  std::chrono::nanoseconds min_hold{std::chrono::microseconds(20)};
  std::chrono::nanoseconds max_hold{0};  // see ProtocolConfig::max_hold
  bool home_starts_owner = false;  // see ProtocolConfig::home_starts_owner
  bool reads_take_ownership = false;  // see ProtocolConfig::reads_take_ownership
  std::optional<FaultInjectionConfig> fault_injection;  // delay/reorder every message sent
  std::chrono::milliseconds connect_timeout{10000};
  ClusterKey key;  // every peer proves it before a page moves (coherence/peer_auth.h)
  // Called (loop thread) when the region becomes unusable, e.g. "lost node 2 (10.0.0.3:7000):
  // connection reset". Either way the failure is logged and barrier()/leave() report it; the
  // application decides what else happens (a vCPU may wait in a fault no node will serve).
  FatalHandler on_fatal;
};

// Thread-safety: data() memory from any thread; barrier(), stats() and leave() from any thread
// but not concurrently with each other. The node's event loop runs on its own thread.
class ClusterMemory {
 public:
  // Creates the memfd region, the userfaultfd and the TCP transport, connects to every peer
  // (blocking until all have said hello, or failing after connect_timeout), starts the loop.
  [[nodiscard]] static Result<std::unique_ptr<ClusterMemory>> join(ClusterConfig config);
  ~ClusterMemory();
  ClusterMemory(const ClusterMemory&) = delete;
  ClusterMemory& operator=(const ClusterMemory&) = delete;

  [[nodiscard]] std::uint8_t* data() const;
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] NodeId self() const;
  [[nodiscard]] const HomeMap& homes() const;

  // Waits until every node has called barrier() as often as this one (call it from one thread
  // only, after this node's threads are done with the accesses of the phase).
  [[nodiscard]] Status barrier();
  // A final barrier, then stops serving: afterwards no node needs this one's pages. Errors: a
  // node did not arrive within `timeout` (this node then keeps serving until it is destroyed).
  [[nodiscard]] Status leave(std::chrono::milliseconds timeout = kNoTimeout);
  static constexpr std::chrono::milliseconds kNoTimeout = std::chrono::milliseconds::max();
  [[nodiscard]] NodeStats stats();

  struct Parts;  // region, uffd, loop, node, transports, thread (in destruction order)

 private:
  explicit ClusterMemory(std::unique_ptr<Parts> parts);
  [[nodiscard]] Status run_barrier(bool final, std::chrono::milliseconds timeout);
  void drain_injector();
  void stop_loop();
  static void run_loop(Parts& parts);
  std::unique_ptr<Parts> parts_;
};

// Parses "host:port,host:port,..." (ids in order) into peer addresses.
[[nodiscard]] Result<std::vector<PeerAddress>> parse_peers(const std::string& list);

}  // namespace heca::coherence

// NodeLinks: the links between node processes beside the coherence mesh. One TCP mesh on its
// own event-loop thread carries I/O forwarding (IoForwarder/IoServer) and forwarded interrupts.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "coherence/event_loop.h"
#include "coherence/tcp_transport.h"
#include "io-aggregation/io_bus.h"
#include "io-aggregation/io_forwarder.h"
#include "io-aggregation/io_server.h"
#include "kernel/base/result.h"
#include "vmm/node/link_wire.h"

namespace heca::vmm::node {

using coherence::NodeId;

// Forwarded interrupts, TSC probes and the guest-stop notice travel as link messages
// (link_wire.h); a malformed or unknown one closes that link, which stops the guest.

// This host's TSC against another node's host TSC: theirs ~= ours + offset, to within
// +-uncertainty (half the round trip of the best probe).
struct TscOffset {
  std::int64_t offset = 0;
  std::uint64_t uncertainty = 0;
};

struct NodeLinksConfig {
  NodeId self = 0;
  NodeId io_node = 0;
  std::vector<coherence::PeerAddress> peers;  // every node, self included, indexed by id
  const io::IoBus* bus = nullptr;             // the I/O node's devices (I/O node only)
  std::chrono::milliseconds connect_timeout{15000};
  coherence::ClusterKey key;  // every link proves it before any message crosses
  // Compute nodes: the I/O node reported the guest's exit (loop thread).
  std::function<void(std::uint32_t exit_code)> on_guest_exit;
  // An interrupt for a vCPU this node runs (loop thread).
  std::function<void(IpiKind kind, std::uint32_t apic_id, std::uint8_t vector)> on_ipi;
  // A link broke while the guest runs (loop thread).
  std::function<void(const std::string& why)> on_link_failed;
  // Node `from` stopped the guest with `exit_code` (loop thread).
  std::function<void(NodeId from, std::uint32_t exit_code)> on_guest_stop;
};

struct NodeLinksStats {
  std::array<std::uint64_t, kIpiKindCount> ipis_sent{};
  std::array<std::uint64_t, kIpiKindCount> ipis_received{};
  std::optional<io::IoForwarderStats> forwarded_io;  // compute nodes
  std::optional<io::IoServerStats> served_io;        // the I/O node
};

// "ipis forwarded: fixed=1/2 ... (sent/received)", then forwarded or served I/O.
[[nodiscard]] std::vector<std::string> stats_lines(const NodeLinksStats& stats);

// THREADS: send_ipi(), broadcast_guest_exit(), forward_*() and request_stop() from any thread;
// the TransportHandler methods on the loop thread. INVARIANT: the loop thread is joined (in
// shut_down() or the destructor) before the server, forwarder and transport are destroyed.
class NodeLinks final : public coherence::TransportHandler {
 public:
  // Listens, connects to every peer (blocking), then runs the loop on its own thread.
  [[nodiscard]] static Result<std::unique_ptr<NodeLinks>> connect(NodeLinksConfig config);
  ~NodeLinks() override;
  NodeLinks(const NodeLinks&) = delete;
  NodeLinks& operator=(const NodeLinks&) = delete;

  void send_ipi(NodeId to, IpiKind kind, std::uint32_t apic_id, std::uint8_t vector);
  void broadcast_guest_exit(std::uint32_t exit_code);  // I/O node
  // Any node: the guest stopped here with `exit_code` (0..255); tells every other node.
  void broadcast_guest_stop(std::uint32_t exit_code);
  // Compute nodes: one unclaimed access, completed by the I/O node; false if it failed.
  [[nodiscard]] bool forward_read(io::AddressSpace space, std::uint64_t addr,
                                  std::span<std::uint8_t> data);
  [[nodiscard]] bool forward_write(io::AddressSpace space, std::uint64_t addr,
                                   std::span<const std::uint8_t> data);
  // Probes `reference` `rounds` times (blocking; not from the loop thread) and keeps the probe
  // with the shortest round trip. Fails if a reply does not come within `timeout`.
  [[nodiscard]] Result<TscOffset> measure_tsc_offset(NodeId reference, int rounds,
                                                      std::chrono::milliseconds timeout);
  // The guest is over: fail waiting forwards, and treat later link losses as expected.
  void request_stop(const std::string& why);
  // Stops and joins the loop thread (idempotent).
  void shut_down();
  // Any thread.
  [[nodiscard]] NodeLinksStats stats() const;

  std::span<std::uint8_t> payload_destination(NodeId from,
                                              const coherence::wire::Header& header) override;
  void on_message(NodeId from, const coherence::wire::Header& header,
                  std::span<const std::uint8_t> payload) override;
  void on_peer_lost(NodeId peer, const Error& why) override;

 private:
  NodeLinks(NodeLinksConfig config, coherence::EventLoop loop);
  [[nodiscard]] coherence::TransportHandler& io_handler();

  NodeLinksConfig config_;
  coherence::EventLoop loop_;
  std::unique_ptr<io::IoServer> server_;        // I/O node
  std::unique_ptr<io::IoForwarder> forwarder_;  // compute nodes
  std::unique_ptr<coherence::TcpTransport> tcp_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::array<std::atomic<std::uint64_t>, kIpiKindCount> ipis_sent_{};
  std::array<std::atomic<std::uint64_t>, kIpiKindCount> ipis_received_{};
  // The reply to the probe in flight (LOCKING: probe_mu_).
  std::mutex probe_mu_;
  std::condition_variable probe_cv_;
  std::uint64_t probe_sequence_ = 0;        // GUARDED_BY(probe_mu_)
  std::optional<std::uint64_t> reply_tsc_;  // their TSC; GUARDED_BY(probe_mu_)
  std::uint64_t reply_local_tsc_ = 0;       // ours when the reply arrived; GUARDED_BY(probe_mu_)

  void on_tsc_reply(const TscReply& reply);
};

[[nodiscard]] const char* ipi_kind_name(IpiKind kind);

}  // namespace heca::vmm::node

// IoServer: the I/O node's end of I/O forwarding. It runs the PIO/MMIO requests of every node
// against the I/O node's IoBus and replies; it also pushes guest exit and interrupts to nodes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "coherence/event_loop.h"
#include "coherence/transport.h"
#include "io-aggregation/io_bus.h"
#include "io-aggregation/io_wire.h"
#include "kernel/base/result.h"

namespace heca::io {

struct IoServerConfig {
  NodeId self = 0;
  // Every other node of the guest: the receivers of broadcast_guest_exit().
  std::vector<NodeId> peers;
  // A peer's link broke or it sent a malformed message (its connection is closed, or its
  // later messages are ignored). Runs on the event-loop thread.
  std::function<void(NodeId peer, const Error& why)> on_peer_failed;
};

struct IoServerStats {
  std::uint64_t reads = 0;             // forwarded reads served
  std::uint64_t writes = 0;            // forwarded writes served
  std::uint64_t unclaimed_reads = 0;   // of those, answered with all-ones
  std::uint64_t unclaimed_writes = 0;  // of those, dropped
  std::uint64_t malformed = 0;         // messages rejected by the codec
  std::uint64_t guest_exits_sent = 0;
  std::uint64_t send_failures = 0;  // replies or pushes a lost peer could not take
};

// THREADS: broadcast_guest_exit() and stats() from any thread (the work is
// posted to the loop); the TransportHandler methods on the event-loop thread only. Devices are
// called on the loop thread, concurrently with the I/O node's own vCPU threads (IoDevice
// requires devices to allow that).
// INVARIANT: the EventLoop, the transport and the bus outlive the server, and the loop stops
// running before the server is destroyed (posted work captures `this`).
// LOCKING: mu_ guards stats_ only.
class IoServer final : public coherence::TransportHandler {
 public:
  IoServer(coherence::EventLoop& loop, const IoBus& bus, IoServerConfig config);
  IoServer(const IoServer&) = delete;
  IoServer& operator=(const IoServer&) = delete;

  // The transport built with this server as its handler. Call before the loop runs.
  void set_transport(coherence::Transport& transport) { transport_ = &transport; }

  // Tells every peer the guest ended with `exit_code`. Each peer receives it after the replies
  // already sent to it (per-peer FIFO).
  void broadcast_guest_exit(std::uint32_t exit_code);

  [[nodiscard]] IoServerStats stats() const;

  std::span<std::uint8_t> payload_destination(NodeId from,
                                              const coherence::wire::Header& header) override;
  void on_message(NodeId from, const coherence::wire::Header& header,
                  std::span<const std::uint8_t> payload) override;
  void on_peer_lost(NodeId peer, const Error& why) override;

 private:
  void serve(NodeId from, const IoMessage& request);
  // Runs the access on the bus; returns the reply to send.
  IoMessage access_bus(const IoMessage& request);
  void send_to(NodeId to, const IoMessage& message);
  // Counts a malformed message and gives up on its sender.
  void reject(NodeId from, const std::string& problem);
  void fail_peer(NodeId peer, const Error& why);
  void count(std::uint64_t IoServerStats::*counter);

  coherence::EventLoop& loop_;
  const IoBus& bus_;
  const IoServerConfig config_;
  coherence::Transport* transport_ = nullptr;   // loop thread only
  std::set<NodeId> failed_peers_;               // loop thread only
  std::array<std::uint8_t, 1> reject_frame_{};  // loop thread only, never read
  mutable std::mutex mu_;
  IoServerStats stats_;  // GUARDED_BY(mu_)
};

}  // namespace heca::io

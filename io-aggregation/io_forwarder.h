// IoForwarder: a compute node's end of I/O forwarding. It sends each PIO/MMIO access no local
// device claims to the I/O node and blocks the calling vCPU thread until the reply arrives.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "coherence/event_loop.h"
#include "coherence/transport.h"
#include "io-aggregation/io_bus.h"
#include "io-aggregation/io_wire.h"
#include "io-aggregation/latency_window.h"
#include "kernel/base/result.h"

namespace heca::io {

struct IoForwarderConfig {
  NodeId self = 0;
  NodeId io_node = 0;
  // A reply later than this fails the access as if the I/O node were lost. The transport's
  // dead-peer detection normally reports a lost node much sooner.
  std::chrono::milliseconds reply_timeout{30000};
  // Messages the I/O node pushes to this node; both run on the event-loop thread.
  std::function<void(std::uint32_t exit_code)> on_guest_exit;
  // The I/O link is gone (peer lost, malformed message): the guest cannot go on.
  std::function<void(const Error& why)> on_link_failed;
};

struct IoForwarderStats {
  std::uint64_t reads = 0;         // completed forwarded reads
  std::uint64_t writes = 0;        // completed forwarded writes
  std::uint64_t unclaimed = 0;     // completed, but no device on the I/O node claimed them
  std::uint64_t failed = 0;        // ended with an error (lost link, stop, timeout)
  std::uint64_t late_replies = 0;  // replies for requests that had already failed
  LatencySummary round_trip;
};

// THREADS: read()/write() from any number of vCPU threads at once; request_stop() and
// stats() from any thread; the TransportHandler methods on the event-loop thread only.
// The transport is used only on the loop thread (send() runs inside a post()).
// INVARIANT: the EventLoop and the transport outlive the forwarder, and the loop stops
// running before the forwarder is destroyed (posted sends capture `this`).
// LOCKING: mu_ guards waiting_, next_id_, failure_ and the counters. No network call is made
// with mu_ held; a waiter's fields are written only under mu_ and only while it is in waiting_.
class IoForwarder final : public coherence::TransportHandler {
 public:
  IoForwarder(coherence::EventLoop& loop, IoForwarderConfig config);
  IoForwarder(const IoForwarder&) = delete;
  IoForwarder& operator=(const IoForwarder&) = delete;
  ~IoForwarder() override;

  // The transport built with this forwarder as its handler. Call before the loop runs.
  void set_transport(coherence::Transport& transport) { transport_ = &transport; }

  // Forward one access and wait for the I/O node's reply. `data` must be 1, 2 or 4 bytes
  // (PIO) or 1, 2, 4 or 8 bytes (MMIO). An Error (lost I/O node, stop, timeout, bad reply)
  // means the access did not complete: the caller stops its vCPU.
  [[nodiscard]] Status read(AddressSpace space, std::uint64_t addr, std::span<std::uint8_t> data);
  [[nodiscard]] Status write(AddressSpace space, std::uint64_t addr,
                             std::span<const std::uint8_t> data);

  // Fails every waiting access and every later one with `why` (e.g. the guest is stopping).
  void request_stop(const std::string& why);

  [[nodiscard]] IoForwarderStats stats() const;

  std::span<std::uint8_t> payload_destination(NodeId from,
                                              const coherence::wire::Header& header) override;
  void on_message(NodeId from, const coherence::wire::Header& header,
                  std::span<const std::uint8_t> payload) override;
  void on_peer_lost(NodeId peer, const Error& why) override;

 private:
  struct Waiter {
    std::condition_variable done_cv;
    bool done = false;
    std::optional<Error> error;
    IoMessage reply;
  };

  [[nodiscard]] Result<IoMessage> round_trip(IoMessage request);
  [[nodiscard]] Result<IoMessage> wait_reply(std::unique_lock<std::mutex>& lock, Waiter& waiter,
                                             std::uint64_t id);
  void send_on_loop(std::uint64_t id, const EncodedIoMessage& encoded);
  void complete(std::uint64_t id, const IoMessage& reply);
  void fail_request(std::uint64_t id, const Error& why);
  // Fails every waiting access and every later one with `why` (the first failure sticks).
  void fail_all(const Error& why);
  // Records the link as broken, fails all waiters and reports it once.
  void fail_link(const Error& why);
  void on_io_message(const IoMessage& message);

  coherence::EventLoop& loop_;
  const IoForwarderConfig config_;
  coherence::Transport* transport_ = nullptr;  // loop thread only
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Waiter*> waiting_;  // GUARDED_BY(mu_)
  std::uint64_t next_id_ = 1;                           // GUARDED_BY(mu_)
  std::optional<Error> failure_;                        // GUARDED_BY(mu_)
  bool link_failure_reported_ = false;                  // GUARDED_BY(mu_)
  IoForwarderStats stats_;                              // GUARDED_BY(mu_)
  LatencyWindow latency_;                               // GUARDED_BY(mu_)
  std::array<std::uint8_t, 1> reject_frame_{};          // loop thread only, never read
};

}  // namespace heca::io

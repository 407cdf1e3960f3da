// FaultInjectionTransport: wraps a Transport and delays every message by a seeded random time.
// Messages to different peers get reordered; messages to one peer keep their order (per-pair FIFO).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "coherence/event_loop.h"
#include "coherence/transport.h"

namespace heca::coherence {

struct FaultInjectionConfig {
  std::chrono::nanoseconds max_delay{std::chrono::milliseconds(2)};
  std::uint64_t seed = 1;
};

// Thread-safety: the EventLoop's thread only (the inner transport's rule).
// INVARIANT: the EventLoop and the inner transport outlive this object; messages still
// delayed at destruction are dropped.
class FaultInjectionTransport final : public Transport {
 public:
  FaultInjectionTransport(EventLoop& loop, Transport& inner, FaultInjectionConfig config);
  ~FaultInjectionTransport() override;
  FaultInjectionTransport(const FaultInjectionTransport&) = delete;
  FaultInjectionTransport& operator=(const FaultInjectionTransport&) = delete;

  // Copies the message and hands it to the inner transport after a random delay in
  // [0, max_delay], but never before an earlier message to the same peer. Errors of the
  // delayed inner send are logged (the inner transport reports lost peers itself).
  [[nodiscard]] Status send(NodeId to, const wire::Header& header,
                            std::span<const std::uint8_t> payload) override;
  [[nodiscard]] NodeId self() const override { return inner_.self(); }
  // Passed straight to the inner transport; messages still delayed for `peer` then fail.
  void disconnect(NodeId peer, const Error& why) override { inner_.disconnect(peer, why); }
  // Messages accepted by send() and not yet handed to the inner transport.
  [[nodiscard]] std::size_t delayed_count() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Delayed {
    Clock::time_point due;
    wire::Header header;
    std::vector<std::uint8_t> payload;
  };
  void release_due(NodeId to, EventLoop::TimerId fired);

  EventLoop& loop_;
  Transport& inner_;
  FaultInjectionConfig config_;
  std::mt19937_64 rng_;
  std::map<NodeId, std::deque<Delayed>> queues_;  // INVARIANT: `due` non-decreasing per queue
  std::set<EventLoop::TimerId> timers_;
};

}  // namespace heca::coherence

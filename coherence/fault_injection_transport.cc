#include "coherence/fault_injection_transport.h"

#include "kernel/base/log.h"

namespace heca::coherence {

FaultInjectionTransport::FaultInjectionTransport(EventLoop& loop, Transport& inner,
                                                 FaultInjectionConfig config)
    : loop_(loop), inner_(inner), config_(config), rng_(config.seed) {}

FaultInjectionTransport::~FaultInjectionTransport() {
  for (const auto id : timers_) loop_.cancel_timer(id);
}

Status FaultInjectionTransport::send(NodeId to, const wire::Header& header,
                                     std::span<const std::uint8_t> payload) {
  if (payload.size() != header.payload_length) {
    return make_error("fault injection: payload size does not match header", EINVAL);
  }
  std::uniform_int_distribution<std::int64_t> pick(0, config_.max_delay.count());
  const auto now = Clock::now();
  auto due = now + std::chrono::nanoseconds(pick(rng_));
  auto& queue = queues_[to];
  if (!queue.empty()) due = std::max(due, queue.back().due);
  queue.push_back(Delayed{due, header, {payload.begin(), payload.end()}});
  // The timer id is only known after add_timer, so the callback looks it up by value.
  auto id = std::make_shared<EventLoop::TimerId>(0);
  *id = loop_.add_timer(due - now, [this, to, id] { release_due(to, *id); });
  timers_.insert(*id);
  return {};
}

void FaultInjectionTransport::release_due(NodeId to, EventLoop::TimerId fired) {
  timers_.erase(fired);
  auto& queue = queues_[to];
  const auto now = Clock::now();
  while (!queue.empty() && queue.front().due <= now) {
    const Delayed message = std::move(queue.front());
    queue.pop_front();
    if (auto s = inner_.send(to, message.header, message.payload); !s) {
      spdlog::error("fault injection: delayed send to node {}: {}", to, s.error().message());
    }
  }
}

std::size_t FaultInjectionTransport::delayed_count() const {
  std::size_t count = 0;
  for (const auto& [peer, queue] : queues_) count += queue.size();
  return count;
}

}  // namespace heca::coherence

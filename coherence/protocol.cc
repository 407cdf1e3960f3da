#include "coherence/protocol.h"

#include <fmt/format.h>

#include "kernel/base/check.h"

namespace heca::coherence {
namespace {

bool for_home(wire::MessageType type) {
  switch (type) {
    case wire::MessageType::kReadRequest:
    case wire::MessageType::kWriteRequest:
    case wire::MessageType::kInvalidateAck:
    case wire::MessageType::kFetchReply:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string ProtocolStats::to_string() const {
  return fmt::format(
      "faults r={} w={} coalesced={} spurious={} | requests r={} w={} prefetch={} grants={} | "
      "served inv={} fetch={} deferred={} | home txns={} queued={}",
      read_faults, write_faults, coalesced_faults, spurious_faults, read_requests, write_requests,
      prefetch_requests, grants_received, invalidations_served, fetches_served, hold_deferrals,
      transactions, queued_requests);
}

Protocol::Protocol(ProtocolConfig config)
    : config_(std::move(config)),
      directory_(stats_, config_.home_starts_owner ? std::optional<NodeId>(config_.self)
                                                   : std::nullopt),
      requester_(config_.homes,
                 RequesterConfig{.min_hold = config_.min_hold,
                                 .max_hold = config_.max_hold,
                                 .prefetch_window = config_.prefetch_window,
                                 .owned_home = config_.home_starts_owner
                                                   ? std::optional<NodeId>(config_.self)
                                                   : std::nullopt,
                                 .reads_take_ownership = config_.reads_take_ownership},
                 stats_) {
  HECA_CHECK(config_.homes.node_count() <= kMaxNodes);
  HECA_CHECK(config_.self < config_.homes.node_count());
}

void Protocol::on_fault(PageIndex page, Access access, Nanos now, Actions& out) {
  HECA_CHECK(page < config_.homes.page_count());
  Outbox outbox(config_.self, out, loopback_);
  requester_.on_fault(page, access, now, outbox);
  drain_loopback(now, outbox);
}

Status Protocol::on_message(NodeId from, const wire::Message& message, Nanos now, Actions& out) {
  HECA_CHECK(loopback_.empty());
  if (from == config_.self || from >= config_.homes.node_count() || message.sender != from ||
      message.page >= config_.homes.page_count()) {
    return make_error(fmt::format("{} from node {} (sender {}) is not addressed correctly",
                                  wire::type_name(message.type), from, message.sender));
  }
  if (!for_home(message.type) && config_.homes.home_of(message.page) != from) {
    return make_error(fmt::format("{} for page {} from node {}, which is not its home",
                                  wire::type_name(message.type), message.page, from));
  }
  Outbox outbox(config_.self, out, loopback_);
  auto status = dispatch(Envelope{from, message}, now, outbox);
  drain_loopback(now, outbox);
  return status;
}

void Protocol::on_timer(PageIndex page, Nanos now, Actions& out) {
  Outbox outbox(config_.self, out, loopback_);
  requester_.on_timer(page, now, outbox);
  drain_loopback(now, outbox);
}

bool Protocol::expects_page_data(NodeId from, const wire::Message& message) const {
  if (message.page >= config_.homes.page_count()) return false;
  if (message.type == wire::MessageType::kGrant) {
    return config_.homes.home_of(message.page) == from && requester_.expects_grant_data(message);
  }
  if (message.type == wire::MessageType::kFetchReply) {
    const auto view = directory_.view(message.page);
    return config_.homes.home_of(message.page) == config_.self && view.busy && view.owner == from;
  }
  return false;
}

Status Protocol::dispatch(const Envelope& envelope, Nanos now, Outbox& out) {
  if (for_home(envelope.message.type)) {
    if (config_.homes.home_of(envelope.message.page) != config_.self) {
      return make_error(fmt::format("{} for page {}, which node {} is not home of",
                                    wire::type_name(envelope.message.type), envelope.message.page,
                                    config_.self));
    }
    return directory_.on_message(envelope, out);
  }
  return requester_.on_message(envelope, now, out);
}

// Messages this node sends itself are delivered in FIFO order, like any per-pair channel.
void Protocol::drain_loopback(Nanos now, Outbox& out) {
  while (!loopback_.empty()) {
    const Envelope envelope = loopback_.front();
    loopback_.pop_front();
    auto status = dispatch(envelope, now, out);
    HECA_CHECK(status.has_value());  // this node's own messages are always well-formed
  }
}

}  // namespace heca::coherence

#include "io-aggregation/io_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>

#include "kernel/base/log.h"

namespace heca::io {
namespace {

// Why a decoded message from `from` is not a request the I/O node serves; empty if it is.
std::string request_problem(NodeId from, const IoMessage& message) {
  if (message.sender != from) return "wrong sender field";
  if (!is_request(message.type)) {
    return fmt::format("a {} sent to the I/O node", type_name(message.type));
  }
  return {};
}

}  // namespace

IoServer::IoServer(coherence::EventLoop& loop, const IoBus& bus, IoServerConfig config)
    : loop_(loop), bus_(bus), config_(std::move(config)) {}

void IoServer::broadcast_guest_exit(std::uint32_t exit_code) {
  loop_.post([this, exit_code] {
    for (const NodeId peer : config_.peers) {
      if (peer == config_.self) continue;
      send_to(peer, make_guest_exit(exit_code));
      count(&IoServerStats::guest_exits_sent);
    }
  });
}

IoServerStats IoServer::stats() const {
  const std::lock_guard lock(mu_);
  return stats_;
}

std::span<std::uint8_t> IoServer::payload_destination(NodeId from,
                                                      const coherence::wire::Header& header) {
  auto valid = validate_header(header);
  if (valid || failed_peers_.contains(from)) return {};
  reject(from, valid.error().what);
  // Too small for the payload: the transport closes the connection as carrying a malformed
  // frame. (A frame without payload never gets here; on_message() rejects it.)
  return reject_frame_;
}

void IoServer::on_message(NodeId from, const coherence::wire::Header& header,
                          std::span<const std::uint8_t> payload) {
  if (failed_peers_.contains(from)) return;
  auto message = decode(header, payload);
  const std::string problem = message ? request_problem(from, *message) : message.error().what;
  if (!problem.empty()) return reject(from, problem);
  serve(from, *message);
}

void IoServer::on_peer_lost(NodeId peer, const Error& why) {
  if (failed_peers_.contains(peer)) return;
  fail_peer(peer, Error{why.code, fmt::format("lost the I/O link to node {}: {}", peer, why.what)});
}

void IoServer::serve(NodeId from, const IoMessage& request) {
  const IoMessage reply = access_bus(request);
  send_to(from, reply);
}

IoMessage IoServer::access_bus(const IoMessage& request) {
  const bool mmio =
      request.type == IoMessageType::kMmioRead || request.type == IoMessageType::kMmioWrite;
  const AddressSpace space = mmio ? AddressSpace::kMmio : AddressSpace::kPio;
  if (request.type == IoMessageType::kPioRead || request.type == IoMessageType::kMmioRead) {
    std::array<std::uint8_t, kMaxAccessSize> data{};
    const auto bytes = std::span(data).first(request.size);
    const bool claimed = bus_.read(space, request.address, bytes);
    // PC default: a read nobody decodes floats to all-ones.
    if (!claimed) std::fill(bytes.begin(), bytes.end(), std::uint8_t{0xFF});
    count(&IoServerStats::reads);
    if (!claimed) count(&IoServerStats::unclaimed_reads);
    return make_reply(request.request_id, bytes, !claimed);
  }
  const bool claimed = bus_.write(space, request.address, request.bytes());
  count(&IoServerStats::writes);
  if (!claimed) count(&IoServerStats::unclaimed_writes);
  return make_reply(request.request_id, {}, !claimed);
}

void IoServer::send_to(NodeId to, const IoMessage& message) {
  if (transport_ == nullptr || failed_peers_.contains(to)) {
    count(&IoServerStats::send_failures);
    return;
  }
  IoMessage out = message;
  out.sender = config_.self;
  const EncodedIoMessage encoded = encode(out);
  if (auto sent = transport_->send(to, encoded.header, encoded.payload_bytes()); !sent) {
    // The lost peer is reported through on_peer_lost(); nothing else to do for this message.
    count(&IoServerStats::send_failures);
  }
}

void IoServer::reject(NodeId from, const std::string& problem) {
  count(&IoServerStats::malformed);
  fail_peer(from,
            Error{EPROTO, fmt::format("node {} sent a malformed I/O message: {}", from, problem)});
}

void IoServer::fail_peer(NodeId peer, const Error& why) {
  failed_peers_.insert(peer);
  spdlog::error("node {}: {}", config_.self, why.message());
  if (config_.on_peer_failed) config_.on_peer_failed(peer, why);
}

void IoServer::count(std::uint64_t IoServerStats::*counter) {
  const std::lock_guard lock(mu_);
  ++(stats_.*counter);
}

}  // namespace heca::io

#include "io-aggregation/io_forwarder.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "kernel/base/log.h"

namespace heca::io {
namespace {

using Clock = std::chrono::steady_clock;

Status check_size(AddressSpace space, std::size_t size) {
  if (valid_access_size(space == AddressSpace::kMmio, size)) return {};
  return make_error(fmt::format("cannot forward a {}-byte {} access", size,
                                space == AddressSpace::kMmio ? "MMIO" : "PIO"),
                    EINVAL);
}

Error malformed(NodeId from, const std::string& reason) {
  return Error{EPROTO, fmt::format("I/O node {} sent a malformed message: {}", from, reason)};
}

}  // namespace

IoForwarder::IoForwarder(coherence::EventLoop& loop, IoForwarderConfig config)
    : loop_(loop), config_(std::move(config)) {}

IoForwarder::~IoForwarder() = default;

Status IoForwarder::read(AddressSpace space, std::uint64_t addr, std::span<std::uint8_t> data) {
  if (auto ok = check_size(space, data.size()); !ok) return ok;
  auto reply = round_trip(make_read_request(space == AddressSpace::kMmio, addr, data.size()));
  if (!reply) return std::unexpected(reply.error());
  if (reply->size != data.size()) {
    return make_error(fmt::format("I/O node {} answered a {}-byte read with {} bytes",
                                  config_.io_node, data.size(), reply->size),
                      EPROTO);
  }
  std::copy_n(reply->data.begin(), data.size(), data.begin());
  return {};
}

Status IoForwarder::write(AddressSpace space, std::uint64_t addr,
                          std::span<const std::uint8_t> data) {
  if (auto ok = check_size(space, data.size()); !ok) return ok;
  auto reply = round_trip(make_write_request(space == AddressSpace::kMmio, addr, data));
  if (!reply) return std::unexpected(reply.error());
  if (reply->size != 0) {
    return make_error(
        fmt::format("I/O node {} answered a write with {} bytes", config_.io_node, reply->size),
        EPROTO);
  }
  return {};
}

Result<IoMessage> IoForwarder::round_trip(IoMessage request) {
  Waiter waiter;
  const auto start = Clock::now();
  std::unique_lock lock(mu_);
  if (failure_) {
    ++stats_.failed;
    return std::unexpected(*failure_);
  }
  const std::uint64_t id = next_id_++;
  waiting_.emplace(id, &waiter);
  request.sender = config_.self;
  request.request_id = id;
  // post() only queues, so holding mu_ here cannot deadlock with the loop thread.
  loop_.post([this, id, encoded = encode(request)] { send_on_loop(id, encoded); });
  auto reply = wait_reply(lock, waiter, id);
  if (!reply) {
    ++stats_.failed;
    return reply;
  }
  latency_.record(Clock::now() - start);
  const bool is_read =
      request.type == IoMessageType::kPioRead || request.type == IoMessageType::kMmioRead;
  ++(is_read ? stats_.reads : stats_.writes);
  if ((reply->flags & kFlagUnclaimed) != 0) ++stats_.unclaimed;
  return reply;
}

Result<IoMessage> IoForwarder::wait_reply(std::unique_lock<std::mutex>& lock, Waiter& waiter,
                                          std::uint64_t id) {
  const auto deadline = Clock::now() + config_.reply_timeout;
  if (!waiter.done_cv.wait_until(lock, deadline, [&] { return waiter.done; })) {
    waiting_.erase(id);
    return make_error(fmt::format("no reply from I/O node {} within {} ms", config_.io_node,
                                  config_.reply_timeout.count()),
                      ETIMEDOUT);
  }
  if (waiter.error) return std::unexpected(*waiter.error);
  return waiter.reply;
}

void IoForwarder::send_on_loop(std::uint64_t id, const EncodedIoMessage& encoded) {
  if (transport_ == nullptr) {
    return fail_request(id, Error{ENOTCONN, "I/O forwarder has no transport"});
  }
  auto sent = transport_->send(config_.io_node, encoded.header, encoded.payload_bytes());
  if (!sent) {
    fail_request(id, Error{sent.error().code, fmt::format("forwarding to I/O node {}: {}",
                                                          config_.io_node, sent.error().what)});
  }
}

void IoForwarder::complete(std::uint64_t id, const IoMessage& reply) {
  const std::lock_guard lock(mu_);
  const auto it = waiting_.find(id);
  if (it == waiting_.end()) {
    ++stats_.late_replies;
    return;
  }
  Waiter& waiter = *it->second;
  waiting_.erase(it);
  waiter.reply = reply;
  waiter.done = true;
  // Notified under mu_: once the waiter sees `done` it may return and destroy its cv.
  waiter.done_cv.notify_one();
}

void IoForwarder::fail_request(std::uint64_t id, const Error& why) {
  const std::lock_guard lock(mu_);
  const auto it = waiting_.find(id);
  if (it == waiting_.end()) return;
  Waiter& waiter = *it->second;
  waiting_.erase(it);
  waiter.error = why;
  waiter.done = true;
  waiter.done_cv.notify_one();
}

void IoForwarder::request_stop(const std::string& why) {
  fail_all(Error{ECANCELED, why});
}

void IoForwarder::fail_all(const Error& why) {
  const std::lock_guard lock(mu_);
  if (!failure_) failure_ = why;
  for (auto& [id, waiter] : waiting_) {
    waiter->error = *failure_;
    waiter->done = true;
    waiter->done_cv.notify_one();
  }
  waiting_.clear();
}

void IoForwarder::fail_link(const Error& why) {
  {
    const std::lock_guard lock(mu_);
    if (link_failure_reported_) return;
    link_failure_reported_ = true;
  }
  spdlog::error("node {}: {}", config_.self, why.message());
  fail_all(why);
  if (config_.on_link_failed) config_.on_link_failed(why);
}

IoForwarderStats IoForwarder::stats() const {
  const std::lock_guard lock(mu_);
  IoForwarderStats s = stats_;
  s.round_trip = latency_.summary();
  return s;
}

std::span<std::uint8_t> IoForwarder::payload_destination(NodeId from,
                                                         const coherence::wire::Header& header) {
  auto valid = validate_header(header);
  if (valid || from != config_.io_node) return {};
  fail_link(malformed(from, valid.error().what));
  // Too small for the payload: the transport closes the connection as carrying a malformed
  // frame. (A frame without payload never gets here; on_message() rejects it.)
  return reject_frame_;
}

void IoForwarder::on_message(NodeId from, const coherence::wire::Header& header,
                             std::span<const std::uint8_t> payload) {
  if (from != config_.io_node) {
    spdlog::warn("node {}: ignoring an I/O message from node {}, which is not the I/O node",
                 config_.self, from);
    return;
  }
  auto message = decode(header, payload);
  if (!message || message->sender != from) {
    const std::string reason = message ? "wrong sender field" : message.error().what;
    return fail_link(malformed(from, reason));
  }
  on_io_message(*message);
}

void IoForwarder::on_io_message(const IoMessage& message) {
  switch (message.type) {
    case IoMessageType::kIoReply:
      return complete(message.request_id, message);
    case IoMessageType::kGuestExit:
      if (config_.on_guest_exit) config_.on_guest_exit(message.exit_code);
      return;
    default:
      return fail_link(Error{EPROTO, fmt::format("I/O node {} sent a {} to a compute node",
                                                 config_.io_node, type_name(message.type))});
  }
}

void IoForwarder::on_peer_lost(NodeId peer, const Error& why) {
  if (peer != config_.io_node) return;
  fail_link(Error{why.code, fmt::format("lost the link to I/O node {}: {}", peer, why.what)});
}

}  // namespace heca::io

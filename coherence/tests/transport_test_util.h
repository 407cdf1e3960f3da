// Test support for transport tests: a recording TransportHandler and deadline polling.
// Shared by the in-process TCP tests and the network-namespace node program.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "coherence/event_loop.h"
#include "coherence/transport.h"
#include "tests/support/wait.h"

namespace heca::coherence::testing {

struct ReceivedMessage {
  NodeId from = 0;
  wire::Header header;
  std::vector<std::uint8_t> payload;
  bool in_destination = false;  // the payload span was the one payload_destination() gave
};

// Records everything; thread-safe so a test thread can inspect what the loop thread saw.
class RecordingHandler : public TransportHandler {
 public:
  // Messages of `type` are received into `destination` (zero copy); others use the buffer.
  void use_destination(std::uint8_t type, std::span<std::uint8_t> destination) {
    const std::lock_guard lock(mu_);
    destination_type_ = type;
    destination_ = destination;
  }
  std::span<std::uint8_t> payload_destination(NodeId, const wire::Header& header) override {
    const std::lock_guard lock(mu_);
    return header.type == destination_type_ ? destination_ : std::span<std::uint8_t>{};
  }
  void on_message(NodeId from, const wire::Header& header,
                  std::span<const std::uint8_t> payload) override {
    const std::lock_guard lock(mu_);
    const bool in_destination = !destination_.empty() && payload.data() == destination_.data();
    messages_.push_back({from, header, {payload.begin(), payload.end()}, in_destination});
  }
  void on_peer_lost(NodeId peer, const Error& why) override {
    const std::lock_guard lock(mu_);
    lost_.emplace_back(peer, why.message());
  }
  std::vector<ReceivedMessage> messages() const {
    const std::lock_guard lock(mu_);
    return messages_;
  }
  std::vector<std::pair<NodeId, std::string>> lost() const {
    const std::lock_guard lock(mu_);
    return lost_;
  }

 private:
  mutable std::mutex mu_;
  int destination_type_ = -1;
  std::span<std::uint8_t> destination_;
  std::vector<ReceivedMessage> messages_;
  std::vector<std::pair<NodeId, std::string>> lost_;
};

using heca::testing::wait_for;

// Runs fn on the loop's thread and waits for it (the loop must be running).
template <class Fn>
auto on_loop(EventLoop& loop, Fn fn) -> decltype(fn()) {
  std::packaged_task<decltype(fn())()> task(std::move(fn));
  auto result = task.get_future();
  loop.post([&task] { task(); });
  return result.get();
}

inline wire::Header make_header(NodeId sender, std::uint8_t type, std::uint64_t request_id,
                                std::size_t payload_length) {
  wire::Header h;
  h.type = type;
  h.sender = sender;
  h.request_id = request_id;
  h.page = request_id;
  h.payload_length = static_cast<std::uint32_t>(payload_length);
  return h;
}

}  // namespace heca::coherence::testing

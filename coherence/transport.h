// Transport: how coherence messages (wire header + payload) move between nodes.
// The protocol sees only this interface; TCP today, RDMA later, a fault injector in tests.
#pragma once

#include <cstdint>
#include <span>

#include "coherence/types.h"
#include "coherence/wire_header.h"
#include "kernel/base/result.h"

namespace heca::coherence {

// Receives what a Transport delivers. Called on the transport's event-loop thread only.
struct TransportHandler {
  virtual ~TransportHandler() = default;
  // Where the payload of an incoming message with this (validated) header should be received
  // into, e.g. straight into the engine view (zero copy). It must hold at least
  // header.payload_length bytes, or the frame is treated as malformed. Return an empty span
  // to let the transport use its own buffer.
  virtual std::span<std::uint8_t> payload_destination(NodeId from, const wire::Header& header) = 0;
  // A complete, header-validated message. payload is either (the start of) the span returned
  // by payload_destination(), or a transport buffer valid only during the call.
  virtual void on_message(NodeId from, const wire::Header& header,
                          std::span<const std::uint8_t> payload) = 0;
  // The peer's connection broke, or it sent a malformed frame; the connection is closed.
  // Called at most once per peer.
  virtual void on_peer_lost(NodeId peer, const Error& why) = 0;
};

// Thread-safety: call only on the event-loop thread the transport was created with.
class Transport {
 public:
  virtual ~Transport() = default;
  // Queues header + payload (payload.size() must equal header.payload_length) to `to`. The
  // payload is sent or copied before send() returns, so the caller may reuse it at once.
  // Never blocks on the network: what the socket does not take is buffered and flushed from
  // the event loop. Messages to one peer arrive in the order they were sent.
  [[nodiscard]] virtual Status send(NodeId to, const wire::Header& header,
                                    std::span<const std::uint8_t> payload) = 0;
  [[nodiscard]] virtual NodeId self() const = 0;
  // Closes the connection to `peer`, e.g. after it sent a message that passed framing but
  // failed the codec or the protocol. Nothing more from that peer is delivered, not even
  // frames already received, and on_peer_lost(peer, why) follows once, from the loop. Safe
  // to call from inside on_message(). Does nothing for a peer that is not connected.
  virtual void disconnect(NodeId peer, const Error& why) = 0;
};

}  // namespace heca::coherence

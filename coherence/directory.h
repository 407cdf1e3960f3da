// PageDirectory: the home side of the protocol for the pages this node is home of.
// Keeps owner and sharers per page, serialises transactions per page, queues the rest.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "coherence/actions.h"
#include "coherence/protocol_stats.h"
#include "coherence/wire.h"
#include "kernel/base/result.h"

namespace heca::coherence {

using NodeMask = std::uint64_t;  // bit n: node n (clusters of at most 64 nodes)
inline constexpr std::uint16_t kMaxNodes = 64;

[[nodiscard]] inline NodeMask node_bit(NodeId node) {
  return NodeMask{1} << node;
}

// Thread-safety: owned by one Protocol, called on its thread only.
class PageDirectory {
 public:
  // `initial_owner`: the owner of a page the directory has not seen yet (the home itself when
  // homes start as owners); nullopt: nobody, the home's engine view holds the only copy.
  PageDirectory(ProtocolStats& stats, std::optional<NodeId> initial_owner)
      : stats_(stats), initial_owner_(initial_owner) {}

  // ReadRequest / WriteRequest / InvalidateAck / FetchReply addressed to this home.
  [[nodiscard]] Status on_message(const Envelope& envelope, Outbox& out);

  struct View {  // for tests and stats
    std::optional<NodeId> owner;
    NodeMask sharers = 0;
    bool busy = false;
    std::size_t queued = 0;
  };
  [[nodiscard]] View view(PageIndex page) const;

 private:
  struct Request {
    NodeId from = 0;
    bool write = false;
    std::uint64_t request_id = 0;
  };
  struct Transaction {
    Request request;
    std::uint64_t id = 0;        // echoed by the acks and the fetch reply
    NodeMask acks_pending = 0;   // sharers still to acknowledge their invalidation
    bool awaiting_data = false;  // the M owner's data has not arrived yet
    bool delayed = false;        // queued, or an answer came only after a holder's hold
  };
  // INVARIANT: owner set => sharers == 0 (single writer or multiple readers, never both).
  struct Entry {
    std::optional<NodeId> owner;
    NodeMask sharers = 0;
    std::optional<Transaction> active;
    // FIFO of waiting requests: at most one per node, and no allocation while empty.
    std::vector<Request> queue;
  };

  [[nodiscard]] Status on_request(const Envelope& envelope, Outbox& out);
  [[nodiscard]] Status on_ack(const Envelope& envelope, Outbox& out);
  [[nodiscard]] Status on_fetch_reply(const Envelope& envelope, Outbox& out);
  [[nodiscard]] Status check_request(const Entry& entry, const Request& request) const;
  void start(PageIndex page, Entry& entry, const Request& request, bool queued, Outbox& out);
  void try_finish(PageIndex page, Entry& entry, Outbox& out);
  void pump(PageIndex page, Entry& entry, Outbox& out);

  ProtocolStats& stats_;
  // absent: as first seen (owner = initial_owner_, no sharers)
  std::unordered_map<PageIndex, Entry> entries_;
  std::optional<NodeId> initial_owner_;
  std::uint64_t next_transaction_ = 1;
};

}  // namespace heca::coherence

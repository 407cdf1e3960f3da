#include "coherence/directory.h"

#include <string>

#include "kernel/base/check.h"

namespace heca::coherence {
namespace {

using wire::Message;
using wire::MessageType;

Message command(MessageType type, PageIndex page, std::uint64_t id) {
  return Message{.type = type, .page = page, .request_id = id};
}

std::string describe(const Envelope& envelope, const char* problem) {
  return std::string(wire::type_name(envelope.message.type)) + " from node " +
         std::to_string(envelope.from) + " for page " + std::to_string(envelope.message.page) +
         ": " + problem;
}

}  // namespace

Status PageDirectory::on_message(const Envelope& envelope, Outbox& out) {
  switch (envelope.message.type) {
    case MessageType::kReadRequest:
    case MessageType::kWriteRequest:
      return on_request(envelope, out);
    case MessageType::kInvalidateAck:
      return on_ack(envelope, out);
    case MessageType::kFetchReply:
      return on_fetch_reply(envelope, out);
    default:
      return make_error(describe(envelope, "not a message for the home"));
  }
}

PageDirectory::View PageDirectory::view(PageIndex page) const {
  const auto it = entries_.find(page);
  if (it == entries_.end()) return {.owner = initial_owner_};
  return {.owner = it->second.owner,
          .sharers = it->second.sharers,
          .busy = it->second.active.has_value(),
          .queued = it->second.queue.size()};
}

// A well-behaved requester has at most one request per page outstanding, and never asks for
// a page it holds: anything else is a protocol violation by that peer.
Status PageDirectory::check_request(const Entry& entry, const Request& request) const {
  if (entry.active && entry.active->request.from == request.from) {
    return make_error("a second request while one is in progress");
  }
  for (const Request& queued : entry.queue) {
    if (queued.from == request.from) return make_error("a second request while one is queued");
  }
  if (entry.owner == request.from) return make_error("a request from the page's owner");
  if (!request.write && (entry.sharers & node_bit(request.from)) != 0) {
    return make_error("a read request from a sharer");
  }
  return {};
}

Status PageDirectory::on_request(const Envelope& envelope, Outbox& out) {
  const Message& message = envelope.message;
  const PageIndex page = message.page;
  auto [it, first_seen] = entries_.try_emplace(page);
  Entry& entry = it->second;
  if (first_seen) entry.owner = initial_owner_;
  const Request request{.from = envelope.from,
                        .write = message.type == MessageType::kWriteRequest,
                        .request_id = message.request_id};
  if (auto status = check_request(entry, request); !status) {
    return make_error(describe(envelope, status.error().what.c_str()));
  }
  if (entry.active) {
    ++stats_.queued_requests;
    entry.queue.push_back(request);
    return {};
  }
  start(page, entry, request, false, out);
  pump(page, entry, out);
  return {};
}

// Opens a transaction: fetch from the M owner if another node has it, invalidate every other
// sharer for a write. The grant goes out from try_finish once all of that has come back.
void PageDirectory::start(PageIndex page, Entry& entry, const Request& request, bool queued,
                          Outbox& out) {
  ++stats_.transactions;
  Transaction txn{.request = request, .id = next_transaction_++, .delayed = queued};
  if (entry.owner && *entry.owner != request.from) {
    txn.awaiting_data = true;
    const auto type = request.write ? MessageType::kFetchInvalidate : MessageType::kFetch;
    out.send(*entry.owner, command(type, page, txn.id));
  }
  if (request.write) {
    const NodeMask others = entry.sharers & ~node_bit(request.from);
    for (NodeId node = 0; node < kMaxNodes; ++node) {
      if ((others & node_bit(node)) == 0) continue;
      txn.acks_pending |= node_bit(node);
      out.send(node, command(MessageType::kInvalidate, page, txn.id));
    }
  }
  entry.active = txn;
  try_finish(page, entry, out);
}

// INVARIANT: a write grant leaves only after EVERY invalidation ack and the old owner's data
// have arrived, so at no instant do two nodes map the page with one of them writable.
void PageDirectory::try_finish(PageIndex page, Entry& entry, Outbox& out) {
  HECA_CHECK(entry.active.has_value());
  const Transaction& txn = *entry.active;
  if (txn.acks_pending != 0 || txn.awaiting_data) return;
  const NodeId to = txn.request.from;
  Message grant{.type = MessageType::kGrant,
                .flags = txn.delayed ? wire::kFlagGrantDelayed : std::uint16_t{0},
                .page = page,
                .request_id = txn.request.request_id};
  if (txn.request.write) {
    grant.flags |= wire::kFlagGrantWrite;
    grant.has_page_data = (entry.sharers & node_bit(to)) == 0;  // an upgrade keeps its copy
    entry.sharers = 0;
    entry.owner = to;
  } else {
    grant.has_page_data = true;
    entry.sharers |= node_bit(to);
  }
  entry.active.reset();
  out.send(to, grant);
}

void PageDirectory::pump(PageIndex page, Entry& entry, Outbox& out) {
  while (!entry.active && !entry.queue.empty()) {
    const Request next = entry.queue.front();
    entry.queue.erase(entry.queue.begin());
    start(page, entry, next, true, out);
  }
}

Status PageDirectory::on_ack(const Envelope& envelope, Outbox& out) {
  const auto it = entries_.find(envelope.message.page);
  if (it == entries_.end() || !it->second.active ||
      it->second.active->id != envelope.message.request_id ||
      (it->second.active->acks_pending & node_bit(envelope.from)) == 0) {
    return make_error(describe(envelope, "no invalidation of this node is pending"));
  }
  Entry& entry = it->second;
  entry.active->acks_pending &= ~node_bit(envelope.from);
  if ((envelope.message.flags & wire::kFlagAfterHold) != 0) entry.active->delayed = true;
  entry.sharers &= ~node_bit(envelope.from);
  try_finish(envelope.message.page, entry, out);
  pump(envelope.message.page, entry, out);
  return {};
}

Status PageDirectory::on_fetch_reply(const Envelope& envelope, Outbox& out) {
  const auto it = entries_.find(envelope.message.page);
  if (it == entries_.end() || !it->second.active ||
      it->second.active->id != envelope.message.request_id || !it->second.active->awaiting_data ||
      it->second.owner != envelope.from) {
    return make_error(describe(envelope, "no fetch from this node is pending"));
  }
  Entry& entry = it->second;
  // The home's engine view becomes the up-to-date copy (the local owner's already is).
  if (envelope.from != out.self()) out.emit(StorePayloadAction{envelope.message.page});
  entry.owner.reset();
  if (!entry.active->request.write) entry.sharers |= node_bit(envelope.from);  // kept S
  entry.active->awaiting_data = false;
  if ((envelope.message.flags & wire::kFlagAfterHold) != 0) entry.active->delayed = true;
  try_finish(envelope.message.page, entry, out);
  pump(envelope.message.page, entry, out);
  return {};
}

}  // namespace heca::coherence

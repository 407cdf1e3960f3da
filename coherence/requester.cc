#include "coherence/requester.h"

#include <algorithm>

#include <string>

#include "kernel/base/check.h"

namespace heca::coherence {
namespace {

using wire::Message;
using wire::MessageType;

std::string describe(const Envelope& envelope, const char* problem) {
  return std::string(wire::type_name(envelope.message.type)) + " from node " +
         std::to_string(envelope.from) + " for page " + std::to_string(envelope.message.page) +
         ": " + problem;
}

bool satisfies(PageState state, Access access) {
  return access == Access::kRead ? state != PageState::kInvalid : state == PageState::kModified;
}

}  // namespace

PageRequester::PageRequester(const HomeMap& homes, RequesterConfig config, ProtocolStats& stats)
    : homes_(homes), config_(config), stats_(stats), pages_(homes.page_count()) {
  if (!config_.owned_home) return;
  for (PageIndex page = 0; page < pages_.size(); ++page) {
    if (homes_.home_of(page) == *config_.owned_home) pages_[page].state = PageState::kModified;
  }
}

// Coalescing: one request per page is outstanding at a time. A read fault during a write
// request just waits for it; a write fault during a read request upgrades after the grant.
void PageRequester::on_fault(PageIndex page, Access access, Nanos now, Outbox& out) {
  ++(access == Access::kRead ? stats_.read_faults : stats_.write_faults);
  if (config_.reads_take_ownership) access = Access::kWrite;
  LocalPage& local = pages_[page];
  if (satisfies(local.state, access)) {
    ++stats_.spurious_faults;  // resolved before the fault was read: wake the thread
    out.emit(InstallAction{page, local.state});
    return;
  }
  if (local.pending != Pending::kNone) {
    ++stats_.coalesced_faults;
    local.prefetch = false;
    if (access == Access::kWrite && local.pending == Pending::kRead) {
      local.upgrade_after_read = true;
    }
    return;
  }
  request(page, access == Access::kRead ? Pending::kRead : Pending::kWrite, false, now, out);
  if (access == Access::kRead) prefetch_after(page, now, out);
}

void PageRequester::request(PageIndex page, Pending kind, bool prefetch, Nanos now,
                            Outbox& out) {
  LocalPage& local = pages_[page];
  if (config_.max_hold > config_.min_hold && !prefetch) requested_at_[page] = now;
  local.pending = kind;
  local.prefetch = prefetch;
  local.request_id = next_request_id_++;
  ++outstanding_;
  ++(prefetch                 ? stats_.prefetch_requests
     : kind == Pending::kRead ? stats_.read_requests
                              : stats_.write_requests);
  out.send(homes_.home_of(page),
           Message{.type = kind == Pending::kRead ? MessageType::kReadRequest
                                                  : MessageType::kWriteRequest,
                   .flags = prefetch ? wire::kFlagPrefetch : std::uint16_t{0},
                   .page = page,
                   .request_id = local.request_id});
}

// Read-ahead of the following pages that share the faulting page's (remote) home.
void PageRequester::prefetch_after(PageIndex page, Nanos now, Outbox& out) {
  const NodeId home = homes_.home_of(page);
  if (home == out.self()) return;
  for (std::uint32_t i = 1; i <= config_.prefetch_window; ++i) {
    const PageIndex next = page + i;
    if (next >= homes_.page_count() || homes_.home_of(next) != home) return;
    const LocalPage& local = pages_[next];
    if (local.state != PageState::kInvalid || local.pending != Pending::kNone) continue;
    request(next, Pending::kRead, true, now, out);
  }
}

bool PageRequester::expects_grant_data(const Message& grant) const {
  if (grant.type != MessageType::kGrant || grant.page >= pages_.size()) return false;
  const LocalPage& local = pages_[grant.page];
  return local.pending != Pending::kNone && local.request_id == grant.request_id &&
         local.state == PageState::kInvalid;
}

Status PageRequester::on_message(const Envelope& envelope, Nanos now, Outbox& out) {
  switch (envelope.message.type) {
    case MessageType::kGrant:
      return on_grant(envelope, now, out);
    case MessageType::kInvalidate:
    case MessageType::kFetch:
    case MessageType::kFetchInvalidate:
      return on_command(envelope, now, out);
    default:
      return make_error(describe(envelope, "not a message for a requester"));
  }
}

Status PageRequester::on_grant(const Envelope& envelope, Nanos now, Outbox& out) {
  const Message& grant = envelope.message;
  LocalPage& local = pages_[grant.page];
  const bool write = (grant.flags & wire::kFlagGrantWrite) != 0;
  if (local.pending == Pending::kNone || local.request_id != grant.request_id ||
      write != (local.pending == Pending::kWrite)) {
    return make_error(describe(envelope, "no such request is outstanding"));
  }
  if (!grant.has_page_data && local.state == PageState::kInvalid) {
    return make_error(describe(envelope, "a grant without data for a page not held"));
  }
  if (grant.has_page_data && envelope.from != out.self()) {
    out.emit(StorePayloadAction{grant.page});
  }
  ++stats_.grants_received;
  if (local.grants != UINT32_MAX) ++local.grants;
  note_transfer_time(grant.page, (grant.flags & wire::kFlagGrantDelayed) != 0, now);
  --outstanding_;
  local.state = write ? PageState::kModified : PageState::kShared;
  local.pending = Pending::kNone;
  // Forward progress: the woken thread gets min_hold to retry its access before this node
  // honours an invalidation or fetch (prefetched pages have no thread to wait for). Only a
  // write grant gets the adaptive hold: it lets a writer finish a burst of writes, while a
  // reader needs its one retried read, and holding its copy longer only stalls the writer.
  local.hold_until = local.prefetch ? now : now + (write ? hold_time() : config_.min_hold);
  out.emit(InstallAction{grant.page, local.state});
  if (local.upgrade_after_read && !write) {
    request(grant.page, Pending::kWrite, false, now, out);
  }
  local.upgrade_after_read = false;
  if (deferred_.contains(grant.page)) out.emit(ArmTimerAction{grant.page, local.hold_until});
  return {};
}

// INVARIANT (invalidation while a request is in flight): the home serialises transactions per
// page and every home->node channel is FIFO, so a command always arrives after the grant it
// was issued after. An Invalidate seen while our own request is outstanding therefore targets
// the copy we hold *now* (S, when upgrading): we zap it and ack at once, and the request stays
// outstanding. The home drops us from the sharers on that ack, so our grant carries data.
Status PageRequester::on_command(const Envelope& envelope, Nanos now, Outbox& out) {
  LocalPage& local = pages_[envelope.message.page];
  if (deferred_.contains(envelope.message.page)) {
    return make_error(describe(envelope, "a second command is pending"));
  }
  if (envelope.message.type != MessageType::kInvalidate && local.state != PageState::kModified) {
    return make_error(describe(envelope, "this node does not own the page"));
  }
  if (now < local.hold_until) {
    ++stats_.hold_deferrals;
    deferred_.emplace(envelope.message.page, envelope);
    out.emit(ArmTimerAction{envelope.message.page, local.hold_until});
    return {};
  }
  serve(envelope, false, out);
  return {};
}

// Nothing changes the page's state while a command is deferred (the home sends no grant for
// it before this command is answered), so the checks made on arrival still hold here.
void PageRequester::serve(const Envelope& envelope, bool after_hold, Outbox& out) {
  const Message& command = envelope.message;
  LocalPage& local = pages_[command.page];
  Message reply{.flags = after_hold ? wire::kFlagAfterHold : std::uint16_t{0},
                .page = command.page,
                .request_id = command.request_id};
  if (command.type == MessageType::kInvalidate) {
    ++stats_.invalidations_served;
    if (local.state != PageState::kInvalid) out.emit(ZapAction{command.page});
    local.state = PageState::kInvalid;
    reply.type = MessageType::kInvalidateAck;
    out.send(envelope.from, reply);
    return;
  }
  HECA_CHECK(local.state == PageState::kModified);
  ++stats_.fetches_served;
  if (command.type == MessageType::kFetch) {
    out.emit(WriteProtectAction{command.page});
    local.state = PageState::kShared;
  } else {
    out.emit(ZapAction{command.page});
    local.state = PageState::kInvalid;
  }
  reply.type = MessageType::kFetchReply;
  reply.has_page_data = true;  // read from the engine view after the protect/zap above
  out.send(envelope.from, reply);
}

void PageRequester::on_timer(PageIndex page, Nanos now, Outbox& out) {
  LocalPage& local = pages_[page];
  const auto it = deferred_.find(page);
  if (it == deferred_.end()) return;
  if (now < local.hold_until) {
    out.emit(ArmTimerAction{page, local.hold_until});
    return;
  }
  const Envelope deferred = it->second;
  deferred_.erase(it);
  serve(deferred, true, out);
}

std::vector<HotPage> PageRequester::hottest_pages(std::size_t count) const {
  std::vector<HotPage> hot;
  for (PageIndex page = 0; page < pages_.size(); ++page) {
    if (pages_[page].grants != 0) hot.push_back({page, pages_[page].grants});
  }
  const auto hotter = [](const HotPage& a, const HotPage& b) {
    return a.grants != b.grants ? a.grants > b.grants : a.page < b.page;
  };
  const std::size_t kept = std::min(count, hot.size());
  std::partial_sort(hot.begin(), hot.begin() + static_cast<std::ptrdiff_t>(kept), hot.end(),
                    hotter);
  hot.resize(kept);
  return hot;
}

// Adaptive hold (Mirage's time window): under write sharing a node that gives a page up at
// once does microseconds of work per transfer of milliseconds. Holding it about as long as a
// transfer takes lets each holder run for a fair share of the exchange.
// A grant that waited behind another request or a holder's hold is no sample: its time holds
// the other node's hold, and learning from it would raise every node's hold to max_hold.
void PageRequester::note_transfer_time(PageIndex page, bool delayed, Nanos now) {
  const auto it = requested_at_.find(page);
  if (it == requested_at_.end()) return;
  const Nanos sample = now - it->second;
  requested_at_.erase(it);
  if (delayed) return;
  transfer_average_ =
      transfer_average_.count() == 0 ? sample : (transfer_average_ * 7 + sample) / 8;
}

Nanos PageRequester::hold_time() const {
  if (config_.max_hold <= config_.min_hold) return config_.min_hold;
  return std::clamp(transfer_average_, config_.min_hold, config_.max_hold);
}

}  // namespace heca::coherence

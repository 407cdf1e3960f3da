// Protocol: one node's complete, pure coherence state machine (home directory + requester).
// Faults, messages and timer expiries go in; an ordered list of Actions comes out.
#pragma once

#include <deque>

#include "coherence/actions.h"
#include "coherence/directory.h"
#include "coherence/homing.h"
#include "coherence/protocol_stats.h"
#include "coherence/requester.h"
#include "kernel/base/result.h"

namespace heca::coherence {

struct ProtocolConfig {
  NodeId self = 0;
  HomeMap homes = HomeMap::even_ranges(1, 1);
  // How long a node keeps a freshly granted page before honouring an invalidation or fetch,
  // so the woken thread can retry its access (no livelock under write ping-pong).
  Nanos min_hold{std::chrono::microseconds(20)};
  // Above min_hold: the hold adapts to the moving average of this node's request-to-grant
  // times (those of grants that waited for no other request or hold), between min_hold and
  // max_hold. Zero: always min_hold.
  Nanos max_hold{0};
  std::uint32_t prefetch_window = 0;  // pages read ahead on a read fault (same home)
  // Every page starts Modified at its home (directory owner = home, the home's copy mapped
  // writable by the runtime), so a node touches the memory it is home of without faults.
  // Otherwise every page starts Invalid everywhere and the home also faults its own pages in.
  bool home_starts_owner = false;
  // Every fault asks for the page Modified, so this node never installs a page Shared
  // (read-only): for hosts that cannot map a page read-only in one step (Linux < 6.4, see
  // kernel/uffd.h), where a second local vCPU could write the page in between. Reads of
  // shared pages then move the page instead of copying it; coherence is unchanged.
  bool reads_take_ownership = false;
};

// Thread-safety: single-threaded; the node runtime calls it from its event-loop thread only.
// No syscalls, no clocks: time is an input.
class Protocol {
 public:
  explicit Protocol(ProtocolConfig config);
  Protocol(const Protocol&) = delete;
  Protocol& operator=(const Protocol&) = delete;

  // A thread of this node faulted on `page`. Appends the actions to `out`.
  void on_fault(PageIndex page, Access access, Nanos now, Actions& out);
  // A decoded, validated message from peer `from`. An Error means `from` broke the protocol;
  // the runtime then treats that peer as lost. Actions appended before an error are valid.
  [[nodiscard]] Status on_message(NodeId from, const wire::Message& message, Nanos now,
                                  Actions& out);
  // The timer armed by an ArmTimerAction for `page` expired.
  void on_timer(PageIndex page, Nanos now, Actions& out);

  // Whether an incoming message's page payload may be received straight into the engine view
  // (the grant or fetch reply this node waits for). Otherwise: a scratch buffer.
  [[nodiscard]] bool expects_page_data(NodeId from, const wire::Message& message) const;

  [[nodiscard]] PageState local_state(PageIndex page) const { return requester_.state(page); }
  [[nodiscard]] bool request_outstanding(PageIndex page) const {
    return requester_.request_outstanding(page);
  }
  // No request of this node is outstanding (nothing will arrive for it unasked).
  [[nodiscard]] bool quiescent() const { return requester_.outstanding_requests() == 0; }
  [[nodiscard]] PageDirectory::View directory(PageIndex page) const {
    return directory_.view(page);
  }
  [[nodiscard]] const ProtocolStats& stats() const { return stats_; }
  [[nodiscard]] std::vector<HotPage> hottest_pages(std::size_t count) const {
    return requester_.hottest_pages(count);
  }
  [[nodiscard]] Nanos hold_time() const { return requester_.hold_time(); }
  [[nodiscard]] const ProtocolConfig& config() const { return config_; }

 private:
  [[nodiscard]] Status dispatch(const Envelope& envelope, Nanos now, Outbox& out);
  void drain_loopback(Nanos now, Outbox& out);

  ProtocolConfig config_;
  ProtocolStats stats_;
  PageDirectory directory_;
  PageRequester requester_;
  std::deque<Envelope> loopback_;
};

}  // namespace heca::coherence

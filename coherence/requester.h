// PageRequester: this node's side of the protocol for every page: its local I/S/M state,
// the one outstanding request per page, and the commands (invalidate/fetch) it serves.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "coherence/actions.h"
#include "coherence/homing.h"
#include "coherence/protocol_stats.h"
#include "kernel/base/result.h"

namespace heca::coherence {

struct RequesterConfig {
  Nanos min_hold{std::chrono::microseconds(20)};
  Nanos max_hold{0};  // > min_hold: adaptive hold (see ProtocolConfig::max_hold)
  std::uint32_t prefetch_window = 0;
  // Pages homed at this node start Modified here (see ProtocolConfig::home_starts_owner).
  std::optional<NodeId> owned_home;
  bool reads_take_ownership = false;  // see ProtocolConfig::reads_take_ownership
};

// Thread-safety: owned by one Protocol, called on its thread only.
class PageRequester {
 public:
  PageRequester(const HomeMap& homes, RequesterConfig config, ProtocolStats& stats);

  void on_fault(PageIndex page, Access access, Nanos now, Outbox& out);
  // Grant / Invalidate / Fetch / FetchInvalidate addressed to this node.
  [[nodiscard]] Status on_message(const Envelope& envelope, Nanos now, Outbox& out);
  void on_timer(PageIndex page, Nanos now, Outbox& out);

  [[nodiscard]] PageState state(PageIndex page) const { return pages_[page].state; }
  [[nodiscard]] bool request_outstanding(PageIndex page) const {
    return pages_[page].pending != Pending::kNone;
  }
  // True when a grant for this page should be received straight into the engine view.
  [[nodiscard]] bool expects_grant_data(const wire::Message& grant) const;
  [[nodiscard]] std::uint64_t outstanding_requests() const { return outstanding_; }
  // The `count` pages this node was granted most often, most first (ties: lower page first).
  [[nodiscard]] std::vector<HotPage> hottest_pages(std::size_t count) const;
  // How long a page granted now is held against invalidations and fetches.
  [[nodiscard]] Nanos hold_time() const;

 private:
  enum class Pending : std::uint8_t { kNone, kRead, kWrite };
  struct LocalPage {
    PageState state = PageState::kInvalid;
    Pending pending = Pending::kNone;
    bool upgrade_after_read = false;  // a write fault arrived while a read was outstanding
    bool prefetch = false;            // the outstanding read has no waiting thread
    std::uint32_t grants = 0;         // grants received for this page (saturating)
    std::uint64_t request_id = 0;
    Nanos hold_until{0};
  };
  static_assert(sizeof(LocalPage) == 24, "kept for every page of the region");

  void request(PageIndex page, Pending kind, bool prefetch, Nanos now, Outbox& out);
  void note_transfer_time(PageIndex page, bool delayed, Nanos now);
  void prefetch_after(PageIndex page, Nanos now, Outbox& out);
  [[nodiscard]] Status on_grant(const Envelope& envelope, Nanos now, Outbox& out);
  [[nodiscard]] Status on_command(const Envelope& envelope, Nanos now, Outbox& out);
  void serve(const Envelope& envelope, bool after_hold, Outbox& out);

  const HomeMap& homes_;
  RequesterConfig config_;
  ProtocolStats& stats_;
  std::vector<LocalPage> pages_;                      // 24 bytes per page of the region
  std::unordered_map<PageIndex, Envelope> deferred_;  // home commands waiting for hold_until
  // With an adaptive hold: when each outstanding demand request was sent, and a moving
  // average of request-to-grant times of grants that waited for no one.
  std::unordered_map<PageIndex, Nanos> requested_at_;
  Nanos transfer_average_{0};
  std::uint64_t next_request_id_ = 1;
  std::uint64_t outstanding_ = 0;
};

}  // namespace heca::coherence

// Counters kept by the protocol core, exported by the node runtime (`heca-dsm` prints them).
// Plain values: read only on the thread that owns the Protocol, or from a copy.
#pragma once

#include <cstdint>
#include <string>

namespace heca::coherence {

struct ProtocolStats {
  std::uint64_t read_faults = 0;
  std::uint64_t write_faults = 0;
  std::uint64_t coalesced_faults = 0;  // joined an outstanding request on the same page
  std::uint64_t spurious_faults = 0;   // the page already had the access: just woken
  std::uint64_t read_requests = 0;
  std::uint64_t write_requests = 0;
  std::uint64_t prefetch_requests = 0;
  std::uint64_t grants_received = 0;
  std::uint64_t invalidations_served = 0;
  std::uint64_t fetches_served = 0;
  std::uint64_t hold_deferrals = 0;   // an invalidation/fetch waited for the minimum hold time
  std::uint64_t transactions = 0;     // directory transactions run as home
  std::uint64_t queued_requests = 0;  // requests that waited behind another on the same page

  [[nodiscard]] std::string to_string() const;
};

// A page that moved to this node often: the first thing to look at when a guest is slow.
struct HotPage {
  std::uint64_t page = 0;    // page index in the region
  std::uint32_t grants = 0;  // grants this node received for it
};

}  // namespace heca::coherence

#include "coherence/homing.h"

#include <algorithm>
#include <string>

#include "kernel/base/check.h"

namespace heca::coherence {

HomeMap HomeMap::even_ranges(std::uint64_t page_count, std::uint16_t node_count) {
  HECA_CHECK(node_count > 0);
  HomeMap map;
  map.page_count_ = page_count;
  map.node_count_ = node_count;
  PageIndex first = 0;
  for (std::uint16_t node = 0; node < node_count; ++node) {
    const PageIndex end = page_count * (node + 1U) / node_count;
    map.ranges_.push_back({.first = first, .count = end - first, .home = node});
    first = end;
  }
  return map;
}

HomeMap HomeMap::interleave(std::uint64_t page_count, std::uint16_t node_count,
                            std::uint64_t stride) {
  HECA_CHECK(node_count > 0 && stride > 0);
  HomeMap map;
  map.page_count_ = page_count;
  map.node_count_ = node_count;
  map.stride_ = stride;
  return map;
}

Result<HomeMap> HomeMap::from_ranges(std::uint64_t page_count, std::uint16_t node_count,
                                     std::vector<HomeRange> ranges) {
  PageIndex next = 0;
  for (const HomeRange& range : ranges) {
    if (range.first != next || range.count == 0) {
      return make_error("home ranges must be contiguous and non-empty at page " +
                        std::to_string(range.first));
    }
    if (range.home >= node_count) {
      return make_error("home node " + std::to_string(range.home) + " is not in the cluster");
    }
    next = range.first + range.count;
  }
  if (next != page_count) {
    return make_error("home ranges cover " + std::to_string(next) + " of " +
                      std::to_string(page_count) + " pages");
  }
  HomeMap map;
  map.page_count_ = page_count;
  map.node_count_ = node_count;
  map.ranges_ = std::move(ranges);
  return map;
}

NodeId HomeMap::home_of(PageIndex page) const {
  HECA_CHECK(page < page_count_);
  if (stride_ != 0) return static_cast<NodeId>((page / stride_) % node_count_);
  const auto it = std::upper_bound(ranges_.begin(), ranges_.end(), page,
                                   [](PageIndex p, const HomeRange& r) { return p < r.first; });
  HECA_CHECK(it != ranges_.begin());
  return std::prev(it)->home;
}

}  // namespace heca::coherence

// HomeMap: which node is the home (directory holder) of each page of the coherent region.
// Contiguous ranges (the default spreads the region evenly) or page interleave.
#pragma once

#include <cstdint>
#include <vector>

#include "coherence/types.h"
#include "kernel/base/result.h"

namespace heca::coherence {

struct HomeRange {
  PageIndex first = 0;  // first page of the range
  PageIndex count = 0;
  NodeId home = 0;
};

// Immutable value; any thread.
class HomeMap {
 public:
  // node_count contiguous ranges of (nearly) equal size: node 0 homes the first range.
  [[nodiscard]] static HomeMap even_ranges(std::uint64_t page_count, std::uint16_t node_count);
  // Pages are dealt round-robin in blocks of `stride` pages.
  [[nodiscard]] static HomeMap interleave(std::uint64_t page_count, std::uint16_t node_count,
                                          std::uint64_t stride);
  // Explicit ranges; they must cover [0, page_count) exactly, in order, each home < node_count.
  [[nodiscard]] static Result<HomeMap> from_ranges(std::uint64_t page_count,
                                                   std::uint16_t node_count,
                                                   std::vector<HomeRange> ranges);

  [[nodiscard]] NodeId home_of(PageIndex page) const;
  [[nodiscard]] std::uint64_t page_count() const { return page_count_; }
  [[nodiscard]] std::uint16_t node_count() const { return node_count_; }

 private:
  HomeMap() = default;
  std::uint64_t page_count_ = 0;
  std::uint16_t node_count_ = 1;
  std::uint64_t stride_ = 0;       // non-zero: interleave
  std::vector<HomeRange> ranges_;  // used when stride_ == 0
};

}  // namespace heca::coherence

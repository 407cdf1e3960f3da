#include "firmware/e820.h"

#include <algorithm>

namespace heca::firmware {
namespace {

// Adds the part of `range` that lies inside [lo, hi) as RAM, if any.
void add_clipped_ram(std::vector<E820Entry>& out, const RamRange& range, std::uint64_t lo,
                     std::uint64_t hi) {
  const std::uint64_t start = std::max(range.gpa, lo);
  const std::uint64_t end = std::min(range.end(), hi);
  if (start < end) out.push_back({start, end - start, E820Type::kRam});
}

}  // namespace

std::vector<E820Entry> build_e820(std::span<const RamRange> ram) {
  std::vector<E820Entry> out;
  // The legacy area below 1 MiB is never usable RAM, whatever the ranges say.
  out.push_back({kEbdaStart, kBiosAreaEnd - kEbdaStart, E820Type::kReserved});
  for (const RamRange& range : ram) {
    add_clipped_ram(out, range, 0, kEbdaStart);
    add_clipped_ram(out, range, kBiosAreaEnd, UINT64_MAX);
  }
  std::ranges::sort(out, {}, &E820Entry::addr);
  return out;
}

}  // namespace heca::firmware

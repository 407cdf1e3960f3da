#include "firmware/guest_layout.h"

#include <algorithm>

namespace heca::firmware {

std::vector<RamRange> pc_ram_layout(std::uint64_t ram_size) {
  std::vector<RamRange> ranges;
  const std::uint64_t low = std::min(ram_size, kMmioHoleStart);
  ranges.push_back({0, low});
  if (ram_size > low) ranges.push_back({kMmioHoleEnd, ram_size - low});
  return ranges;
}

}  // namespace heca::firmware

#include "io-aggregation/io_bus.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <string>

#include "kernel/base/check.h"

namespace heca::io {
namespace {

constexpr std::uint64_t kPioSpaceSize = 0x10000;

const char* space_name(AddressSpace space) {
  return space == AddressSpace::kPio ? "PIO" : "MMIO";
}

// Inclusive bounds, so a range ending at 2^64 still prints.
std::string describe(std::uint64_t base, std::uint64_t length) {
  return fmt::format("[{:#x}, {:#x}]", base, base + (length - 1));
}

bool overlaps(std::uint64_t a_base, std::uint64_t a_len, std::uint64_t b_base,
              std::uint64_t b_len) {
  return a_base - b_base < b_len || b_base - a_base < a_len;
}

}  // namespace

Status IoBus::add(AddressSpace s, std::uint64_t base, std::uint64_t length,
                  std::shared_ptr<IoDevice> device) {
  HECA_CHECK(device != nullptr);
  const IoBusStats before = stats();
  HECA_CHECK(
      before.pio.claimed + before.pio.unclaimed + before.mmio.claimed + before.mmio.unclaimed == 0);
  const char* name = space_name(s);
  if (length == 0) {
    return make_error(fmt::format("{} device at {:#x}: zero length", name, base));
  }
  if (length - 1 > std::numeric_limits<std::uint64_t>::max() - base) {
    return make_error(fmt::format("{} device at {:#x}: length {:#x} wraps", name, base, length));
  }
  if (s == AddressSpace::kPio && (base >= kPioSpaceSize || length > kPioSpaceSize - base)) {
    return make_error(fmt::format("PIO range {} exceeds the port space", describe(base, length)));
  }
  std::vector<Range>& ranges = space(s).ranges;
  for (const Range& r : ranges) {
    if (overlaps(base, length, r.base, r.length)) {
      return make_error(fmt::format("{} range {} overlaps registered range {}", name,
                                    describe(base, length), describe(r.base, r.length)));
    }
  }
  auto at = std::upper_bound(ranges.begin(), ranges.end(), base,
                             [](std::uint64_t b, const Range& r) { return b < r.base; });
  ranges.insert(at, Range{base, length, std::move(device)});
  return {};
}

const IoBus::Range* IoBus::route(AddressSpace s, std::uint64_t addr) const {
  const Space& sp = space(s);
  auto after = std::upper_bound(sp.ranges.begin(), sp.ranges.end(), addr,
                                [](std::uint64_t a, const Range& r) { return a < r.base; });
  if (after != sp.ranges.begin()) {
    const Range& r = *std::prev(after);
    if (addr - r.base < r.length) {
      sp.claimed.fetch_add(1, std::memory_order_relaxed);
      return &r;
    }
  }
  sp.unclaimed.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

bool IoBus::read(AddressSpace s, std::uint64_t addr, std::span<std::uint8_t> data) const {
  const Range* r = route(s, addr);
  if (r == nullptr) return false;
  r->device->read(addr - r->base, data);
  return true;
}

bool IoBus::write(AddressSpace s, std::uint64_t addr, std::span<const std::uint8_t> data) const {
  const Range* r = route(s, addr);
  if (r == nullptr) return false;
  r->device->write(addr - r->base, data);
  return true;
}

IoBusStats IoBus::stats() const {
  auto snapshot = [](const Space& sp) {
    return IoSpaceStats{sp.claimed.load(std::memory_order_relaxed),
                        sp.unclaimed.load(std::memory_order_relaxed)};
  };
  return IoBusStats{snapshot(space(AddressSpace::kPio)), snapshot(space(AddressSpace::kMmio))};
}

}  // namespace heca::io

// IoBus: maps port-I/O and MMIO address ranges to the device models that claim them.
// An access no device claims is reported back, so the VMM can forward it or apply a default.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "io-aggregation/io_device.h"
#include "kernel/base/result.h"

namespace heca::io {

enum class AddressSpace : std::uint8_t { kPio, kMmio };

struct IoSpaceStats {
  std::uint64_t claimed = 0;
  std::uint64_t unclaimed = 0;
};

struct IoBusStats {
  IoSpaceStats pio;
  IoSpaceStats mmio;
};

// THREADS: add() is set-up only: every device is registered, on one thread, before
// the first read()/write(). After that the range table is immutable, so read(),
// write() and stats() run concurrently from any vCPU thread without a lock (hand
// the vCPU threads a `const IoBus&`). An add() after dispatch has begun aborts.
// An access is routed by its first address; a device sees the whole access even if
// it runs past the device's end.
class IoBus {
 public:
  IoBus() = default;
  IoBus(const IoBus&) = delete;
  IoBus& operator=(const IoBus&) = delete;

  // Claims [base, base + length) in `space`. Fails on an empty range, a range that
  // wraps (or leaves the 64 KiB port space) or one that overlaps a registered device.
  [[nodiscard]] Status add(AddressSpace space, std::uint64_t base, std::uint64_t length,
                           std::shared_ptr<IoDevice> device);

  // Returns false, leaving `data` untouched, when no device claims `addr`.
  [[nodiscard]] bool read(AddressSpace space, std::uint64_t addr,
                          std::span<std::uint8_t> data) const;
  [[nodiscard]] bool write(AddressSpace space, std::uint64_t addr,
                           std::span<const std::uint8_t> data) const;

  [[nodiscard]] IoBusStats stats() const;

 private:
  struct Range {
    std::uint64_t base = 0;
    std::uint64_t length = 0;
    std::shared_ptr<IoDevice> device;
  };
  struct Space {
    std::vector<Range> ranges;  // INVARIANT: sorted by base, non-overlapping.
    mutable std::atomic<std::uint64_t> claimed{0};
    mutable std::atomic<std::uint64_t> unclaimed{0};
  };

  // The device claiming `addr` (counted as claimed or unclaimed), or nullptr.
  const Range* route(AddressSpace space, std::uint64_t addr) const;
  Space& space(AddressSpace s) { return spaces_[static_cast<std::size_t>(s)]; }
  const Space& space(AddressSpace s) const { return spaces_[static_cast<std::size_t>(s)]; }

  std::array<Space, 2> spaces_;
};

}  // namespace heca::io

// The BIOS e820 memory map heca hands to the guest through boot_params.
// Built from the RAM ranges of guest_layout.h; pure, no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "firmware/guest_layout.h"

namespace heca::firmware {

enum class E820Type : std::uint32_t { kRam = 1, kReserved = 2, kAcpi = 3, kNvs = 4 };

struct E820Entry {
  std::uint64_t addr = 0;
  std::uint64_t size = 0;
  E820Type type = E820Type::kRam;
  friend bool operator==(const E820Entry&, const E820Entry&) = default;
};

// RAM ranges in, e820 out: conventional RAM [0, kEbdaStart), reserved [kEbdaStart, kBiosAreaEnd)
// (this covers the AP wakeup firmware at kApWakeupBase and the ACPI tables at kAcpiBase),
// RAM from 1 MiB to the end of each range.
// The result is sorted by address and its entries do not overlap.
[[nodiscard]] std::vector<E820Entry> build_e820(std::span<const RamRange> ram);

}  // namespace heca::firmware

// AP wakeup firmware: the ACPI multiprocessor wakeup mailbox and the 64-bit park loop in which
// application processors wait for it, with their own GDT and identity page tables. Pure builder.
#pragma once

#include <cstdint>
#include <vector>

#include "firmware/guest_layout.h"

namespace heca::firmware {

// The region [kApWakeupBase, kApWakeupBase + kApWakeupSize). Everything an AP touches until it
// jumps to the OS lives here, so nothing depends on boot structures the OS reuses as RAM.
struct ApWakeupLayout {
  static constexpr std::uint64_t kMailbox = kApWakeupBase;            // 4 KiB, 4 KiB aligned
  static constexpr std::uint64_t kParkCode = kApWakeupBase + 0x1000;  // the park loop
  static constexpr std::uint64_t kGdt = kApWakeupBase + 0x1800;       // same entries as kGdtAddr's
  static constexpr std::uint64_t kPml4 = kApWakeupBase + 0x2000;      // identity map of 0..4 GiB
  static constexpr std::uint64_t kPdpt = kApWakeupBase + 0x3000;
  static constexpr std::uint64_t kPd = kApWakeupBase + 0x4000;  // 4 page directories, 2 MiB pages
  static constexpr std::uint64_t kEnd = kPd + 4 * kPageSize;
};
static_assert(ApWakeupLayout::kEnd == kApWakeupBase + kApWakeupSize);
static_assert(ApWakeupLayout::kEnd <= kAcpiBase && kApWakeupBase >= kEbdaStart);

// Mailbox fields (ACPI 6.4, 5.2.12.19): the OS writes apic_id and wakeup_vector, then
// command = kMailboxWakeup; the addressed AP clears command once it has read the vector.
inline constexpr std::size_t kMailboxCommand = 0;       // u16
inline constexpr std::size_t kMailboxApicId = 4;        // u32
inline constexpr std::size_t kMailboxWakeupVector = 8;  // u64
inline constexpr std::uint16_t kMailboxWakeup = 1;
// The apic_id the mailbox starts with: no CPU has it, so no AP mistakes the empty mailbox for its
// own.
inline constexpr std::uint32_t kMailboxNoApic = 0xFFFF'FFFF;

// The port a parked AP writes its APIC id to (32-bit OUT) just before it leaves for the OS.
inline constexpr std::uint16_t kApAwakePort = 0x510;

// The park loop. Entered in 64-bit mode with RBX = the AP's APIC id and interrupts off. It
// checks the mailbox, then halts (a spinning AP would hold a host CPU for the whole boot): the
// VMM makes each parked AP runnable again every few milliseconds, so it checks again. When the
// mailbox addresses it, it reports at kApAwakePort, acknowledges and jumps to the wakeup vector
// in the same state (paging on, 0..4 GiB identity mapped).
[[nodiscard]] std::vector<std::uint8_t> build_ap_park_code();

// The whole region's bytes, to be written at kApWakeupBase.
[[nodiscard]] std::vector<std::uint8_t> build_ap_wakeup_region();

}  // namespace heca::firmware

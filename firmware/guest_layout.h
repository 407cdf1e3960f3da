// The guest-physical memory map heca builds: where RAM, the MMIO hole and the boot
// structures live. Shared by the VMM (memslots, loader) and firmware builders (e820, ACPI).
#pragma once

#include <cstdint>
#include <vector>

namespace heca::firmware {

inline constexpr std::uint64_t kPageSize = 4096;

// PC layout: RAM from 0 up to the MMIO hole, the rest above 4 GiB.
inline constexpr std::uint64_t kMmioHoleStart = 0xC000'0000;  // 3 GiB
inline constexpr std::uint64_t kMmioHoleEnd = 0x1'0000'0000;   // 4 GiB
inline constexpr std::uint64_t kIoApicAddr = 0xFEC0'0000;
inline constexpr std::uint64_t kLapicAddr = 0xFEE0'0000;

// Legacy holes inside low RAM that e820 reports as reserved.
inline constexpr std::uint64_t kEbdaStart = 0x9'FC00;         // end of usable conventional RAM
inline constexpr std::uint64_t kBiosAreaEnd = 0x10'0000;      // 1 MiB

// Boot structures written by the loader (all below 1 MiB, in low RAM).
inline constexpr std::uint64_t kGdtAddr = 0x500;
inline constexpr std::uint64_t kBootParamsAddr = 0x7000;      // Linux "zero page"
inline constexpr std::uint64_t kPml4Addr = 0x9000;            // identity map of the first 4 GiB
inline constexpr std::uint64_t kPdptAddr = 0xA000;
inline constexpr std::uint64_t kPdAddr = 0xB000;              // 4 page directories, 2 MiB pages
inline constexpr std::uint64_t kCmdlineAddr = 0x2'0000;
inline constexpr std::uint64_t kCmdlineMax = 0x1'0000;
// AP wakeup firmware of Linux guests (firmware/ap_wakeup.h): mailbox, park loop, GDT and page
// tables, inside the e820-reserved hole and below the ACPI tables.
inline constexpr std::uint64_t kApWakeupBase = 0xD'0000;
inline constexpr std::uint64_t kApWakeupSize = 0x8000;
inline constexpr std::uint64_t kAcpiBase = 0xE'0000;          // RSDP first, then the tables
inline constexpr std::uint64_t kAcpiMax = 0x2'0000;           // up to 1 MiB
inline constexpr std::uint64_t kKernelLoadAddr = 0x10'0000;   // bzImage protected-mode part, test guest

// 64-bit boot protocol segment selectors (Linux __BOOT_CS / __BOOT_DS).
inline constexpr std::uint16_t kBootCs = 0x10;
inline constexpr std::uint16_t kBootDs = 0x18;

struct RamRange {
  std::uint64_t gpa = 0;
  std::uint64_t size = 0;
  [[nodiscard]] std::uint64_t end() const { return gpa + size; }
};

// Splits `ram_size` bytes of guest RAM around the MMIO hole. Guest RAM offset N in the
// memfd is the N-th byte of RAM in address order, so ranges map to consecutive memfd ranges.
[[nodiscard]] std::vector<RamRange> pc_ram_layout(std::uint64_t ram_size);

}  // namespace heca::firmware

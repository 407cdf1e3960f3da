// What the test guest reads from the VMM at boot: the cmdline keys, the e820 RAM map and
// the MADT's APIC ids (via boot_params -> RSDP -> XSDT/RSDT -> MADT).
#pragma once

#include <stdint.h>

#include "firmware/testguest/layout.h"

namespace heca::firmware::guest {

// fault=lost_ipi / fault=double_ipi: the IPI phase's BSP skips one ping, or sends one extra.
enum class IpiFault : uint8_t { kNone, kLost, kDouble };

struct GuestConfig {
  uint64_t iters = 200000;   // increments per CPU in the xadd and spinlock phases
  uint64_t mbw_kib = 4096;   // bytes per memcpy pass, per CPU
  uint64_t mbw_reps = 5;     // timed memcpy passes (after one untimed warm-up pass)
  uint64_t tsc_khz = 0;      // 0: unknown, report cycles only
  bool lost_update = false;  // fault=lost_update: CPU 0 skips one xadd increment
  uint64_t litmus_blob = 0;  // litmus=0xADDR: run the litmus blob there instead of the workloads
  uint64_t ipi_rounds = 0;   // ipi=N: first, N pings and one NMI from the BSP to every other CPU
  IpiFault ipi_fault = IpiFault::kNone;
  bool triple_fault = false;  // fault=triple_fault: the last CPU triple-faults as it starts
  bool double_fault = false;  // fault=double_fault: the last CPU breaks its stack as it starts
  // checkin_s=N: how long the BSP waits for every AP to check in. APs on other nodes fault in
  // their code, stack and tables page by page, a few ms each on a loaded virtual host.
  uint64_t checkin_s = 30;
};

struct CpuTable {
  uint32_t count = 0;
  uint32_t apic_ids[TG_MAX_CPUS] = {};  // MADT order: index i is "cpu i"
  // The ACPI multiprocessor wakeup mailbox (MADT type 0x10), or 0: start APs with INIT-SIPI-SIPI.
  uint64_t wakeup_mailbox = 0;
};

// Each returns nullptr on success or a static error string.
[[nodiscard]] const char* parse_cmdline(const char* cmdline, GuestConfig* config);
[[nodiscard]] const char* parse_madt(uint64_t rsdp_addr, CpuTable* cpus);
// True if one e820 RAM entry covers [start, end).
[[nodiscard]] bool e820_covers(uint64_t boot_params, uint64_t start, uint64_t end);
// The highest end address of any e820 RAM entry (for the error message).
[[nodiscard]] uint64_t e820_ram_end(uint64_t boot_params);

// Offsets inside the Linux boot_params "zero page".
inline constexpr uint64_t kBpAcpiRsdpAddr = 0x070;
inline constexpr uint64_t kBpE820Entries = 0x1e8;
inline constexpr uint64_t kBpCmdLinePtr = 0x228;
inline constexpr uint64_t kBpE820Table = 0x2d0;

}  // namespace heca::firmware::guest

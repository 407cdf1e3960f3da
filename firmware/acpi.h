// The ACPI tables heca gives the guest: RSDP, XSDT, FADT (+FACS), DSDT, MADT and, for NUMA guests,
// SRAT and SLIT. Pure builder: the caller writes `bytes` at `base_gpa` in guest RAM.
#pragma once

#include <cstdint>
#include <vector>

#include "firmware/guest_layout.h"
#include "kernel/base/result.h"

namespace heca::firmware {

struct AcpiCpu {
  std::uint32_t apic_id = 0;
  std::uint32_t numa_node = 0;  // an AcpiNumaNode::id; ignored when there are no NUMA nodes
};

struct AcpiNumaNode {
  std::uint32_t id = 0;  // proximity domain; nodes must be listed as 0, 1, ..., N-1
  std::vector<RamRange> memory;
};

struct AcpiConfig {
  std::vector<AcpiCpu> cpus;             // one per vCPU, in vCPU order; cpus[0] is the BSP
  std::vector<AcpiNumaNode> numa_nodes;  // empty: no SRAT/SLIT
  std::vector<std::vector<std::uint8_t>> distances;  // SLIT matrix, numa_nodes.size() squared; empty: 10 local / 20 remote
  std::uint64_t base_gpa = kAcpiBase;    // where the bytes will be placed (16-byte aligned)
  // First port of the fixed-hardware PM block: PM1a_EVT (4 bytes) at +0, PM1a_CNT (2) at +4,
  // PM_TMR (4) at +8. 0: no PM block is described (SMI_CMD is 0 either way: always in ACPI mode).
  std::uint16_t pm_io_base = 0;
  // Guest-physical address of the 4 KiB multiprocessor wakeup mailbox (4 KiB aligned), described
  // by a MADT Multiprocessor Wakeup structure. 0: none, APs are started with INIT-SIPI-SIPI.
  std::uint64_t mp_wakeup_mailbox_gpa = 0;
};

struct AcpiTables {
  std::uint64_t base_gpa = 0;       // bytes[0] goes here
  std::uint64_t rsdp_gpa = 0;       // RSDP is first, so == base_gpa
  std::vector<std::uint8_t> bytes;  // RSDP, XSDT, FADT, FACS, DSDT, MADT (+ SRAT, SLIT), all checksummed
};

// SCI interrupt line announced in the FADT (and as a level/active-high override in the MADT).
inline constexpr std::uint16_t kAcpiSciIrq = 9;
// SLP_TYP value of \_S5 in the DSDT, for a PM1a_CNT device model.
inline constexpr std::uint8_t kAcpiS5SleepType = 5;

// Errors: no CPUs, duplicate APIC ids, misaligned base, more bytes than kAcpiMax,
// NUMA node ids not 0..N-1 or a CPU on an unknown node, bad distance matrix, misaligned mailbox.
[[nodiscard]] Result<AcpiTables> build_acpi_tables(const AcpiConfig& config);

}  // namespace heca::firmware

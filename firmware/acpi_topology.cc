// MADT, SRAT and SLIT: the tables that describe CPUs, interrupt controllers and NUMA layout.
#include <algorithm>

#include "firmware/acpi_tables.h"
#include "firmware/le_bytes.h"

namespace heca::firmware::acpi_detail {
namespace {

// xAPIC ids stop at 254 (255 is broadcast); larger ids need x2APIC structures.
constexpr std::uint32_t kMaxXapicId = 254;
constexpr std::uint32_t kEnabled = 1;
constexpr std::uint32_t kMadtPcatCompat = 1;
constexpr std::uint8_t kMaxIoApicId = 0xfe;

// MADT interrupt source override flags (MPS INTI): active high (01) and level triggered (11 << 2).
constexpr std::uint16_t kIntiConforming = 0;
constexpr std::uint16_t kIntiActiveHighLevel = 0x1 | (0x3 << 2);

void append_local_apic(std::vector<std::uint8_t>& madt, const AcpiCpu& cpu) {
  append_le<std::uint8_t>(madt, 0);  // type: Processor Local APIC
  append_le<std::uint8_t>(madt, 8);
  append_le<std::uint8_t>(madt, static_cast<std::uint8_t>(cpu.apic_id));  // ACPI processor UID
  append_le<std::uint8_t>(madt, static_cast<std::uint8_t>(cpu.apic_id));
  append_le<std::uint32_t>(madt, kEnabled);
}

void append_local_x2apic(std::vector<std::uint8_t>& madt, const AcpiCpu& cpu) {
  append_le<std::uint8_t>(madt, 9);  // type: Processor Local x2APIC
  append_le<std::uint8_t>(madt, 16);
  append_le<std::uint16_t>(madt, 0);
  append_le<std::uint32_t>(madt, cpu.apic_id);
  append_le<std::uint32_t>(madt, kEnabled);
  append_le<std::uint32_t>(madt, cpu.apic_id);  // ACPI processor UID
}

void append_io_apic(std::vector<std::uint8_t>& madt, std::size_t cpu_count) {
  append_le<std::uint8_t>(madt, 1);  // type: I/O APIC
  append_le<std::uint8_t>(madt, 12);
  append_le<std::uint8_t>(madt, static_cast<std::uint8_t>(std::min<std::size_t>(cpu_count, kMaxIoApicId)));
  append_le<std::uint8_t>(madt, 0);
  append_le<std::uint32_t>(madt, static_cast<std::uint32_t>(kIoApicAddr));
  append_le<std::uint32_t>(madt, 0);  // GSI base
}

void append_source_override(std::vector<std::uint8_t>& madt, std::uint8_t irq, std::uint32_t gsi,
                            std::uint16_t flags) {
  append_le<std::uint8_t>(madt, 2);  // type: Interrupt Source Override
  append_le<std::uint8_t>(madt, 10);
  append_le<std::uint8_t>(madt, 0);  // bus: ISA
  append_le<std::uint8_t>(madt, irq);
  append_le<std::uint32_t>(madt, gsi);
  append_le<std::uint16_t>(madt, flags);
}

// ACPI 6.4 5.2.12.19: the OS starts APs through the mailbox instead of INIT-SIPI-SIPI.
void append_mp_wakeup(std::vector<std::uint8_t>& madt, std::uint64_t mailbox_gpa) {
  append_le<std::uint8_t>(madt, 0x10);  // type: Multiprocessor Wakeup
  append_le<std::uint8_t>(madt, 16);
  append_le<std::uint16_t>(madt, 0);  // mailbox version
  append_le<std::uint32_t>(madt, 0);  // reserved
  append_le<std::uint64_t>(madt, mailbox_gpa);
}

void append_cpu_affinity(std::vector<std::uint8_t>& srat, const AcpiCpu& cpu) {
  if (cpu.apic_id > kMaxXapicId) {
    append_le<std::uint8_t>(srat, 2);  // type: Processor Local x2APIC Affinity
    append_le<std::uint8_t>(srat, 24);
    append_le<std::uint16_t>(srat, 0);
    append_le<std::uint32_t>(srat, cpu.numa_node);
    append_le<std::uint32_t>(srat, cpu.apic_id);
    append_le<std::uint32_t>(srat, kEnabled);
    append_le<std::uint32_t>(srat, 0);  // clock domain
    append_le<std::uint32_t>(srat, 0);
    return;
  }
  append_le<std::uint8_t>(srat, 0);  // type: Processor Local APIC Affinity
  append_le<std::uint8_t>(srat, 16);
  append_le<std::uint8_t>(srat, static_cast<std::uint8_t>(cpu.numa_node));  // domain bits 7:0
  append_le<std::uint8_t>(srat, static_cast<std::uint8_t>(cpu.apic_id));
  append_le<std::uint32_t>(srat, kEnabled);
  append_le<std::uint8_t>(srat, 0);  // local SAPIC EID
  for (int shift = 8; shift < 32; shift += 8) {  // domain bits 31:8
    append_le<std::uint8_t>(srat, static_cast<std::uint8_t>(cpu.numa_node >> shift));
  }
  append_le<std::uint32_t>(srat, 0);  // clock domain
}

void append_memory_affinity(std::vector<std::uint8_t>& srat, std::uint32_t domain, const RamRange& range) {
  append_le<std::uint8_t>(srat, 1);  // type: Memory Affinity
  append_le<std::uint8_t>(srat, 40);
  append_le<std::uint32_t>(srat, domain);
  append_le<std::uint16_t>(srat, 0);
  append_le<std::uint64_t>(srat, range.gpa);  // base low, base high
  append_le<std::uint64_t>(srat, range.size);  // length low, length high
  append_le<std::uint32_t>(srat, 0);
  append_le<std::uint32_t>(srat, kEnabled);
  append_le<std::uint64_t>(srat, 0);
}

}  // namespace

std::vector<std::uint8_t> build_madt(std::span<const AcpiCpu> cpus, std::uint64_t mailbox_gpa) {
  std::vector<std::uint8_t> madt = sdt_header("APIC", 5);
  append_le<std::uint32_t>(madt, static_cast<std::uint32_t>(kLapicAddr));
  append_le<std::uint32_t>(madt, kMadtPcatCompat);
  // Linux numbers CPUs in MADT order, so the BSP (cpus[0]) comes first.
  for (const AcpiCpu& cpu : cpus) {
    if (cpu.apic_id <= kMaxXapicId) {
      append_local_apic(madt, cpu);
    } else {
      append_local_x2apic(madt, cpu);
    }
  }
  append_io_apic(madt, cpus.size());
  append_source_override(madt, 0, 2, kIntiConforming);  // PIT on IOAPIC pin 2
  append_source_override(madt, static_cast<std::uint8_t>(kAcpiSciIrq), kAcpiSciIrq, kIntiActiveHighLevel);
  if (mailbox_gpa != 0) append_mp_wakeup(madt, mailbox_gpa);
  finish_sdt(madt);
  return madt;
}

std::vector<std::uint8_t> build_srat(const AcpiConfig& config) {
  std::vector<std::uint8_t> srat = sdt_header("SRAT", 3);
  append_le<std::uint32_t>(srat, 1);  // reserved, must be 1 for compatibility
  append_le<std::uint64_t>(srat, 0);
  for (const AcpiCpu& cpu : config.cpus) append_cpu_affinity(srat, cpu);
  for (const AcpiNumaNode& node : config.numa_nodes) {
    for (const RamRange& range : node.memory) append_memory_affinity(srat, node.id, range);
  }
  finish_sdt(srat);
  return srat;
}

std::vector<std::uint8_t> build_slit(const std::vector<std::vector<std::uint8_t>>& distances) {
  std::vector<std::uint8_t> slit = sdt_header("SLIT", 1);
  append_le<std::uint64_t>(slit, distances.size());
  for (const auto& row : distances) slit.insert(slit.end(), row.begin(), row.end());
  finish_sdt(slit);
  return slit;
}

}  // namespace heca::firmware::acpi_detail

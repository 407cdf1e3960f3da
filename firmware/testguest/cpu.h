// Ring-0 CPU setup for the test guest: GDT (ring-3 segments, one TSS per CPU), IDT with
// loud exception handlers, the local APIC and the INIT-SIPI-SIPI start of the APs.
#pragma once

#include <stdint.h>

#include "firmware/testguest/boot_info.h"

namespace heca::firmware::guest {

// BSP, once, before anything can fault: fills the shared GDT and IDT.
void init_descriptor_tables();
// Every CPU: loads the GDT, IDT and the TSS of kernel-stack slot `slot` (slot 0 = BSP).
void load_cpu_tables(uint32_t slot);
// BSP: enables its local APIC (x2APIC when offered, else xAPIC MMIO), builds each AP's page
// tables and starts every CPU in `cpus` except `bsp_apic_id`:
// - through the ACPI wakeup mailbox when the MADT has one (what heca gives a guest whose vCPUs
//   span nodes: no INIT or SIPI then reaches a proxy vCPU), one AP at a time; an AP that does
//   not take its request within `timeout_s` ends the run (TG_EXIT_AP_MISSING);
// - else with INIT, SIPI, SIPI through the trampoline copied below 1 MiB, with the MP spec's
//   10 ms between INIT and SIPI.
void start_aps(const CpuTable& cpus, uint32_t bsp_apic_id, uint64_t tsc_khz, uint64_t timeout_s);
// The IPI phase (ipi=N), ring 0. BSP, before the APs start: routes NMI and the phase's
// vectors (layout.h) to their handlers in the shared IDT.
void install_ipi_gates();
// Every CPU: enables its local APIC (x2APIC when offered) and records `cpu_page` (the
// handlers' per-CPU counters) at the bottom of kernel-stack slot `slot`. True for x2APIC.
bool prepare_ipi_cpu(uint32_t slot, uint64_t cpu_page);
// BSP: programs its LAPIC timer as periodic on TG_VECTOR_TIMER, stopped until ring 3 writes
// an initial count (x2APIC: through the #GP handler; xAPIC: straight to the MMIO page).
void prepare_ipi_timer(bool x2apic);
// Ring 0 -> ring 3 on this CPU's user stack; `entry(arg)` must never return.
[[noreturn]] void run_in_ring3(void (*entry)(uint64_t), uint32_t cpu_index, uint64_t arg);

}  // namespace heca::firmware::guest

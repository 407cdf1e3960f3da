// The test guest's IPI phase (ipi=N): the BSP sends every other CPU one NMI and N fixed IPIs,
// one in flight at a time; each is answered by an IPI back, so the BSP times 0 -> k -> 0.
#pragma once

#include <stdint.h>

#include "firmware/testguest/boot_info.h"

namespace heca::firmware::guest {

// Ring 0, BSP, before the APs start: nullptr, or why this guest cannot run the phase
// (no tsc_khz=, too many rounds, RAM does not cover the phase's pages). On success
// the IDT routes the phase's vectors, the control page is set and the BSP's APIC is ready.
[[nodiscard]] const char* prepare_ipi_phase_bsp(const CpuTable& cpus, uint32_t bsp_index,
                                                const GuestConfig& config, uint64_t boot_params);
// Ring 0, every AP before ring 3 (on kernel-stack slot `slot`): false if its APIC mode
// (x2APIC or xAPIC) differs from the BSP's.
[[nodiscard]] bool prepare_ipi_phase_ap(uint32_t slot, uint32_t cpu_index);

// Ring 3, every CPU, before the barrier that starts the phase: zeroes (and so brings to this
// node) the CPU's own counter page.
void reset_ipi_counters(uint32_t cpu_index);
// Ring 3, every CPU, between two barriers: the BSP runs the rounds, prints the figures and the
// totals, and exits the guest on a lost or doubled IPI; the others answer until it is done.
void run_ipi_phase(uint32_t cpu_index, const CpuTable& cpus, uint32_t bsp_index,
                   const GuestConfig& config);

}  // namespace heca::firmware::guest

// The test guest's litmus mode: the vCPUs named in each litmus blob run its threads' code in
// ring 3 for many iterations, and the CPU of thread 0 fills the outcome histogram.
#pragma once

#include <stdint.h>

#include "firmware/testguest/boot_info.h"

namespace heca::firmware::guest {

// Ring 0, BSP, before the APs start: nullptr if every blob of the chain that starts at
// `blob_addr` (linked by next_blob) fits this guest.
[[nodiscard]] const char* check_litmus_blob(uint64_t blob_addr, uint64_t boot_params, uint32_t cpu_count);

// Ring 3, every CPU, after all checked in: the chain's tests one after the other. In each, the
// CPUs named in the blob run its threads and the CPU of thread 0 marks the blob done and prints
// a summary line; CPUs without a thread wait, and every CPU meets the others before the next
// test. After the last, `exit_cpu` exits the guest and the others park.
[[noreturn]] void run_litmus(uint32_t cpu_index, uint32_t cpu_count, uint32_t exit_cpu,
                             uint64_t blob_addr, uint64_t tsc_khz);

}  // namespace heca::firmware::guest

// The test guest's litmus mode: the vCPUs named in the litmus blob run its threads' code in
// ring 3 for many iterations, and the CPU of thread 0 fills the outcome histogram.
#pragma once

#include <stdint.h>

#include "firmware/testguest/boot_info.h"

namespace heca::firmware::guest {

// Ring 0, BSP, before the APs start: nullptr if the blob at `blob_addr` fits this guest.
[[nodiscard]] const char* check_litmus_blob(uint64_t blob_addr, uint64_t boot_params, uint32_t cpu_count);

// Ring 3, every CPU, after all checked in. CPUs without a thread park; the CPU of thread 0
// marks the blob done, prints a summary line and exits the guest.
[[noreturn]] void run_litmus(uint32_t cpu_index, uint64_t blob_addr, uint64_t tsc_khz);

}  // namespace heca::firmware::guest

// The heca command line: `heca run ...` parsed with CLI11 into a MachineConfig.
// Every input error becomes one "heca: error: ..." line and exit code 2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernel/base/result.h"

namespace heca::vmm {

inline constexpr int kExitUsage = 2;

// Runs the heca CLI and returns the process exit code.
[[nodiscard]] int run_cli(int argc, char** argv);

}  // namespace heca::vmm

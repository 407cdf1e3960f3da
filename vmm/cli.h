// The heca command line: `heca run ...` parsed with CLI11 into a MachineConfig.
// Every input error becomes one "heca: error: ..." line and exit code 2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernel/base/result.h"

namespace heca::vmm {

inline constexpr int kExitUsage = 2;

// "256M", "1G", "4096K", "1048576": bytes. Suffixes K/M/G/T (binary), optional "B"/"iB",
// any case. Errors on empty input, junk, or overflow.
[[nodiscard]] Result<std::uint64_t> parse_size(std::string_view text);

// Runs the heca CLI and returns the process exit code.
[[nodiscard]] int run_cli(int argc, char** argv);

}  // namespace heca::vmm

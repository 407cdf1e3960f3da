// Shared by heca's benchmarks: run the real `heca` binary and pick figures out of its output.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/subprocess.h"

namespace heca::bench {

// Runs `heca run --guest test ...extra` with a generous deadline; nullopt (and a message on
// stderr) unless it exits 0.
[[nodiscard]] std::optional<testing::ProcessResult> run_test_guest(
    const std::vector<std::string>& extra);

// Runs `heca run DESCRIPTION --timeout 300` (every node of a guest description on this
// machine); nullopt (and the output on stderr) unless it exits 0.
[[nodiscard]] std::optional<testing::ProcessResult> run_cluster(const std::string& description);
// `text` without the supervisor's "[node N] " line prefixes.
[[nodiscard]] std::string unprefixed(const std::string& text);
// The unsigned number right after `key` (e.g. "mib_per_s=") in the first line containing
// `line_prefix`, or nullopt.
[[nodiscard]] std::optional<double> find_number(const std::string& text,
                                                std::string_view line_prefix, std::string_view key);

}  // namespace heca::bench

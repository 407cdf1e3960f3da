// Human-readable memory sizes ("256M", "1G", "64MiB", "4096K", raw bytes), parsed in one place
// for the CLI, the guest description and the tools.
#pragma once

#include <cstdint>
#include <string_view>

#include "kernel/base/result.h"

namespace heca {

// Digits followed by an optional binary suffix (K, M, G, T; case-insensitive; an optional
// "B" or "iB" after it). The Error names the text and what is wrong with it.
[[nodiscard]] Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace heca

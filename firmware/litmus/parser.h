// Parses herdtools7 x86 litmus tests (X86 Intel-style and X86_64 AT&T-style) into a
// LitmusTest. Anything outside the supported subset is an "unsupported: ... at line N" error.
#pragma once

#include <string_view>

#include "firmware/litmus/test.h"
#include "kernel/base/result.h"

namespace heca::firmware::litmus {

[[nodiscard]] Result<LitmusTest> parse_litmus(std::string_view text);

}  // namespace heca::firmware::litmus

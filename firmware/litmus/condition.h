// Parses the final condition of a litmus test: `exists`, `~exists` or `forall` over a
// propositional formula (/\, \/, ~ or not, parentheses, true, false) of `T:reg=v` and `loc=v`.
#pragma once

#include <string_view>

#include "firmware/litmus/instruction.h"

namespace heca::firmware::litmus {

// `text` runs from the quantifier to the end of the file; `first_line` is its line number.
// Sets test->quantifier and test->condition; may add locations the code never touches.
[[nodiscard]] Status parse_condition(std::string_view text, int first_line, LitmusTest* test);

}  // namespace heca::firmware::litmus

// Outcomes of a litmus test. The *observed variables* are the registers and locations the
// final condition mentions (all loaded registers and all locations when it mentions none);
// an *outcome* is their final values, in observed_vars() order.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "firmware/litmus/test.h"

namespace heca::firmware::litmus {

using Outcome = std::vector<std::uint64_t>;
using OutcomeSet = std::set<Outcome>;

[[nodiscard]] std::vector<Var> observed_vars(const LitmusTest& test);

// Evaluates `expr` on one outcome over `vars` (every variable of `expr` is in `vars`).
[[nodiscard]] bool evaluate(const Expr& expr, const std::vector<Var>& vars, const Outcome& outcome);

// Whether the test's quantified condition holds over `outcomes` (the allowed set).
[[nodiscard]] bool condition_holds(const LitmusTest& test, const OutcomeSet& outcomes);

// "0:EAX=1 1:EAX=0 x=2"
[[nodiscard]] std::string format_outcome(const LitmusTest& test, const std::vector<Var>& vars,
                                         const Outcome& outcome);

}  // namespace heca::firmware::litmus

// Operational memory models for litmus tests. x86-TSO: per-thread FIFO store buffers,
// loads forward from the own buffer else read memory, buffers drain nondeterministically,
// MFENCE and LOCK'd instructions (and XCHG) wait for an empty own buffer and act atomically
// on memory. SC: stores go straight to memory (used to check that a wrong model is caught).
#pragma once

#include "firmware/litmus/outcome.h"
#include "firmware/litmus/test.h"

namespace heca::firmware::litmus {

enum class MemoryModel { kTso, kSc };

// Exhaustive search over every interleaving (states memoised): the set of final outcomes
// over observed_vars(test) that the model allows.
[[nodiscard]] OutcomeSet allowed_outcomes(const LitmusTest& test, MemoryModel model = MemoryModel::kTso);

}  // namespace heca::firmware::litmus

// Litmus tests built from critical cycles, the way diy builds them: a cycle of relation edges
// (Rfe, Fre, Wse, PodWR, MFencedWW, ...) becomes threads, locations, values and an `exists`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/litmus/test.h"
#include "kernel/base/result.h"

namespace heca::firmware::litmus {

// Builds the X86-dialect test that pins `cycle` (whitespace-separated edge names):
//   external (a new thread after each): Rfe W->R, Fre R->W, Wse (or Coe) W->W, same location;
//   internal, same location: Rfi, Fri, Wsi (or Coi), PosXY, MFencesXY (X, Y in {W, R});
//   internal, next location: PodXY, MFencedXY (MFenced* and MFences* put an MFENCE between).
// Thread 0 holds the cycle's first event; locations are named x, y, z, a, b, ... in order of
// first use. Writes to a location get 1, 2, ... in the coherence order the cycle implies; a
// read is pinned to the value of the write before it on its location (0 when there is none),
// and a location with a Wse/Wsi edge is pinned to its last write. Errors ("cycle '...': ...")
// name the offending edge: unknown names, kinds that do not chain, fewer than two or more
// than kMaxThreads external edges, exactly one (or no) location change, too many locations.
[[nodiscard]] Result<LitmusTest> test_from_cycle(std::string_view cycle, std::string name);

// herdtools7 text of `test` in the X86 dialect (Intel syntax), `cycle` quoted on line 2, that
// parse_litmus() reads back into the same test (dialect X86, code lines aside). Registers
// holding addresses are not written out: the code names its locations directly.
[[nodiscard]] std::string format_litmus(const LitmusTest& test, std::string_view cycle);

// `count` distinct cycles (none a rotation of another), each with 2..max_threads threads
// (max_threads clamped to [2, kMaxThreads]) of 1-2 Pod/MFenced edges, joined by the
// Rfe/Fre/Wse edge their kinds call for. Deterministic for a seed on every platform. Fewer
// than `count` only if that many distinct cycles were not found in 100 draws per cycle.
[[nodiscard]] std::vector<std::string> random_cycles(std::uint64_t seed, std::size_t count,
                                                     std::size_t max_threads);

}  // namespace heca::firmware::litmus

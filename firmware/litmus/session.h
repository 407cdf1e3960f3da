// One litmus run on the test guest, from the host's side: parse the file, compute the
// model's allowed set and the blob before boot; judge the guest's histogram after it exits.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "firmware/litmus/blob.h"
#include "firmware/litmus/model.h"
#include "firmware/litmus/placement.h"
#include "firmware/litmus/test.h"
#include "kernel/base/result.h"

namespace heca::firmware::litmus {

inline constexpr int kLitmusAllAllowed = 0;
inline constexpr int kLitmusForbiddenSeen = 1;
inline constexpr int kLitmusBadTest = 2;

struct LitmusSetup {
  LitmusTest test;
  MemoryModel model = MemoryModel::kTso;
  OutcomeSet allowed;
  ThreadPlacement placement;
  std::string placement_warning;  // empty when every thread has a node of its own
  Blob blob;
  std::string cmdline_key;  // " litmus=0x..." for the guest's command line
};

// `node_of_vcpu[i]` is the node that runs vCPU i (all 0 on one node): the threads go to vCPUs
// of distinct nodes while there are nodes (place_threads()). The blob goes at `gpa`.
// Errors ("unsupported: ..." / "parse error: ..." / too few vCPUs) mean exit code kLitmusBadTest.
[[nodiscard]] Result<LitmusSetup> prepare_litmus(const std::string& path, std::uint64_t iterations,
                                                 MemoryModel model,
                                                 std::span<const std::uint32_t> node_of_vcpu,
                                                 std::uint64_t gpa = abi::kDefaultBlobGpa);

// Several tests in one boot: their blobs one after the other from abi::kDefaultBlobGpa, each
// header's next_blob naming the next, so the guest runs them in turn (one boot instead of one
// per test: most of a short run's time is the boot).
struct LitmusRun {
  std::vector<LitmusSetup> tests;    // those that run, in order
  std::vector<std::string> refused;  // each test left out, "PATH: why"
  std::string cmdline_key;           // " litmus=0x..." of the first blob
};

// One path: an error as prepare_litmus()'s. Several: a test that cannot run is left out and
// named in `refused`; an error (kLitmusBadTest) when none can run, or when the blobs do not
// fit in `ram_bytes` of guest RAM.
[[nodiscard]] Result<LitmusRun> prepare_litmus_run(std::span<const std::string> paths,
                                                   std::uint64_t iterations, const std::string& model,
                                                   std::span<const std::uint32_t> node_of_vcpu,
                                                   std::uint64_t ram_bytes);

// The exit code of a run of several tests: kLitmusForbiddenSeen if a test saw a forbidden
// outcome, else kLitmusBadTest if a test was refused, else kLitmusAllAllowed.
[[nodiscard]] int run_exit_code(std::span<const int> verdict_codes, std::size_t refused);

struct LitmusVerdict {
  std::vector<std::string> lines;  // the histogram beside the allowed set, and the result
  int exit_code = kLitmusAllAllowed;
};

// `guest_blob` is the blob's bytes read back from guest memory after the guest exited.
[[nodiscard]] Result<LitmusVerdict> judge_litmus(const LitmusSetup& setup, std::span<const std::uint8_t> guest_blob);

// "x86-TSO" / "SC"; parse_model_name() accepts "tso" and "sc".
[[nodiscard]] std::string model_name(MemoryModel model);
[[nodiscard]] Result<MemoryModel> parse_model_name(const std::string& name);

// judge_litmus() with its lines printed to stdout; the verdict's exit code.
[[nodiscard]] Result<int> report_litmus(const LitmusSetup& setup,
                                        std::span<const std::uint8_t> guest_blob);

}  // namespace heca::firmware::litmus

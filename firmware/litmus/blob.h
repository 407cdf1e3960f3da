// Turns a LitmusTest into a litmus blob for the test guest (x86-64 code per thread, each
// location on its own page, result slots, an empty histogram), and reads the histogram back.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "firmware/litmus/blob_abi.h"
#include "firmware/litmus/outcome.h"
#include "firmware/litmus/test.h"
#include "kernel/base/result.h"

namespace heca::firmware::litmus {

struct BlobOptions {
  std::uint64_t gpa = abi::kDefaultBlobGpa;
  std::uint64_t iterations = 1000;
  // Which vCPU runs thread t. Placing threads on other nodes' vCPUs changes only this.
  std::array<std::uint32_t, abi::kMaxThreads> cpu_of_thread = {0, 1, 2, 3};
  // The threads run on several nodes: they start at a shared time on the TSC rather than after
  // a short random spin, since a page transfer then takes longer than any such spin.
  bool timed_start = false;
};

struct Blob {
  std::uint64_t gpa = 0;
  std::vector<std::uint8_t> bytes;  // the whole blob, histogram included (zeroed)
};

// Errors: a test with more observed variables than the blob can record.
[[nodiscard]] Result<Blob> build_blob(const LitmusTest& test, const BlobOptions& options);

struct Histogram {
  std::map<Outcome, std::uint64_t> counts;  // over observed_vars(test)
  std::uint64_t iterations = 0;
  std::uint64_t dropped = 0;
};

// `memory` holds the blob as the guest left it (the same size as build_blob()'s bytes).
// Errors: a blob that the guest did not finish, or that is malformed.
[[nodiscard]] Result<Histogram> read_histogram(std::span<const std::uint8_t> memory, const LitmusTest& test);

}  // namespace heca::firmware::litmus

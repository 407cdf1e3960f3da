// LatencyWindow: the most recent round-trip samples, for mean and percentile counters.
// A fixed-size ring, so memory stays bounded however long the guest runs.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace heca::io {

struct LatencySummary {
  std::uint64_t samples = 0;  // all samples ever recorded
  std::chrono::nanoseconds mean{0};
  std::chrono::nanoseconds p50{0};
  std::chrono::nanoseconds p99{0};
};

// THREADS: not synchronised; the owner guards it.
class LatencyWindow {
 public:
  static constexpr std::size_t kCapacity = 4096;

  void record(std::chrono::nanoseconds sample) {
    ring_[count_ % kCapacity] = sample.count();
    ++count_;
  }

  // Mean and percentiles over the last kCapacity samples.
  [[nodiscard]] LatencySummary summary() const {
    LatencySummary s;
    s.samples = count_;
    const std::size_t n = std::min<std::size_t>(count_, kCapacity);
    if (n == 0) return s;
    std::vector<std::int64_t> sorted(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(n));
    std::sort(sorted.begin(), sorted.end());
    std::int64_t total = 0;
    for (const std::int64_t v : sorted) total += v;
    s.mean = std::chrono::nanoseconds(total / static_cast<std::int64_t>(n));
    s.p50 = std::chrono::nanoseconds(sorted[(n - 1) / 2]);
    s.p99 = std::chrono::nanoseconds(sorted[(n - 1) * 99 / 100]);
    return s;
  }

 private:
  std::array<std::int64_t, kCapacity> ring_{};
  std::uint64_t count_ = 0;
};

}  // namespace heca::io

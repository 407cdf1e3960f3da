// bench_scan: sequential read of 64 MiB homed on the other node, MB/s, with prefetch windows
// 0 (off), 4 and 16 pages.
#include <chrono>
#include <cstdio>

#include "bench/coherence/two_nodes.h"

namespace heca::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kRegion = 64 << 20;

void run(std::uint32_t window) {
  TwoNodes nodes = start_two_nodes(
      kRegion, [&](coherence::ClusterConfig& config) { config.prefetch_window = window; });
  const auto* words = reinterpret_cast<const volatile std::uint64_t*>(nodes.remote->data());
  std::uint64_t sum = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < kRegion / 8; ++i) sum += words[i];
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto stats = nodes.remote->stats().protocol;
  stop_two_nodes(nodes);
  std::printf("prefetch %2u: %7.1f MB/s  (%.3f s, read faults %llu, prefetched %llu, sum %llu)\n",
              window, static_cast<double>(kRegion) / 1e6 / seconds, seconds,
              static_cast<unsigned long long>(stats.read_faults),
              static_cast<unsigned long long>(stats.prefetch_requests),
              static_cast<unsigned long long>(sum));
}

}  // namespace
}  // namespace heca::bench

int main() {
  for (const std::uint32_t window : {0U, 4U, 16U}) heca::bench::run(window);
  return 0;
}

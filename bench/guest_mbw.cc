// guest_mbw: memcpy bandwidth inside the test guest (ring 3 on one vCPU) against the same
// `rep movsb` loop run natively on the host, best of kRuns each.
// Usage: guest_mbw [KiB per pass, default 65536].
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "firmware/testguest/mbw_loop.h"

namespace {

constexpr int kRuns = 3;
constexpr std::size_t kReps = 10;

// MiB/s of `kReps` passes of `kib` KiB after one warm-up pass, as the guest measures it.
double host_mib_per_s(std::size_t kib) {
  const std::size_t bytes = kib * 1024;
  std::vector<unsigned char> src(bytes, 0x5A);
  std::vector<unsigned char> dst(bytes, 0);
  heca::firmware::mbw_copy(dst.data(), src.data(), bytes);
  const auto start = std::chrono::steady_clock::now();
  heca::firmware::mbw_copy_passes(dst.data(), src.data(), bytes, kReps);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return static_cast<double>(kib * kReps) / 1024.0 / took.count();
}

// The guest's "mbw cpu=0 ... mib_per_s=N" figure for one heca run, or nullopt.
std::optional<double> guest_mib_per_s(const std::string& kib) {
  const auto memory_mib = 2 * std::strtoull(kib.c_str(), nullptr, 10) / 1024 + 64;
  const auto run = heca::bench::run_test_guest(
      {"--vcpus", "1", "--memory", std::to_string(memory_mib) + "M", "--cmdline",
       "iters=1000 mbw_kib=" + kib + " mbw_reps=" + std::to_string(kReps)});
  if (!run) return std::nullopt;
  const auto figure = heca::bench::find_number(run->out, "mbw cpu=0", "mib_per_s=");
  if (!figure || *figure <= 0) {
    std::fprintf(stderr, "guest_mbw: no 'mbw cpu=0 ... mib_per_s=' line in:\n%s",
                 run->out.c_str());
    return std::nullopt;
  }
  return figure;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kib = argc > 1 ? argv[1] : "65536";
  double guest = 0;
  double host = 0;
  for (int i = 0; i < kRuns; ++i) {
    const auto figure = guest_mib_per_s(kib);
    if (!figure) return 1;
    guest = std::max(guest, *figure);
    host = std::max(host, host_mib_per_s(std::strtoull(kib.c_str(), nullptr, 10)));
  }
  std::printf("memcpy (rep movsb), %s KiB x %zu passes, best of %d runs\n", kib.c_str(), kReps,
              kRuns);
  std::printf("  guest (1 vCPU, ring 3): %10.0f MiB/s\n", guest);
  std::printf("  host (native):          %10.0f MiB/s\n", host);
  std::printf("  guest / host:           %10.3f\n", guest / host);
  return 0;
}

// vcpu_startup: time from heca's start to event 1 (every vCPU checked in) for 1, 2 and 4
// vCPUs, read from heca's "heca: event 1 at X ms" line. Usage: vcpu_startup [runs, default 5].
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_support.h"

namespace {

// Milliseconds to event 1 for one run of `vcpus` vCPUs, or a negative value on failure.
double startup_ms(int vcpus) {
  const auto run = heca::bench::run_test_guest(
      {"--vcpus", std::to_string(vcpus), "--memory", "64M", "--cmdline", "iters=1 mbw_kib=4"});
  if (!run) return -1;
  return heca::bench::find_number(run->err, "heca: event 1 at", "at ").value_or(-1);
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::printf("start to all vCPUs checked in (event 1), %d runs each\n", runs);
  std::printf("%6s %10s %10s %10s\n", "vcpus", "min ms", "median ms", "max ms");
  for (const int vcpus : {1, 2, 4}) {
    std::vector<double> samples;
    for (int i = 0; i < runs; ++i) samples.push_back(startup_ms(vcpus));
    std::sort(samples.begin(), samples.end());
    if (samples.front() < 0) return 1;
    std::printf("%6d %10.3f %10.3f %10.3f\n", vcpus, samples.front(), samples[samples.size() / 2],
                samples.back());
  }
  return 0;
}

// The test guest's counter phases (LOCK XADD + spinlock, then memcpy) with 5 vCPUs on one node
// against the same 5 vCPUs spread over three node processes (2 + 2 + 1), and their ratio.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "bench/bench_support.h"

namespace {

using heca::bench::find_number;

constexpr int kVcpus = 5;

std::string three_node_description(int iters) {
  const auto path = std::filesystem::temp_directory_path() / "heca-bench-multinode.toml";
  std::ofstream out(path);
  out << "[guest]\nmemory = \"256M\"\nkind = \"test\"\ncmdline = \"iters=" << iters << "\"\n"
      << "[transport]\nbase_port = 7790\n"
      << "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\nvcpus = [0, 1]\n"
      << "[[node]]\nid = 1\nroles = [\"compute\", \"memory\"]\nvcpus = [2, 3]\n"
      << "[[node]]\nid = 2\nroles = [\"compute\", \"memory\"]\nvcpus = [4]\n";
  return path.string();
}

struct Figures {
  double workloads_ms = 0;  // all checked in -> workloads done (xadd, spinlock, memcpy)
  double mbw_mib_s = 0;     // sum over the vCPUs
};

std::optional<Figures> figures(const heca::testing::ProcessResult& result) {
  const std::string text = heca::bench::unprefixed(result.out + result.err);
  auto start = find_number(text, "heca: event 1 at", "at ");
  auto done = find_number(text, "heca: event 2 at", "at ");
  if (!start || !done) return std::nullopt;
  Figures f{.workloads_ms = *done - *start, .mbw_mib_s = 0};
  for (int cpu = 0; cpu < kVcpus; ++cpu) {
    auto mbw = find_number(text, "mbw cpu=" + std::to_string(cpu) + " ", "mib_per_s=");
    if (mbw) f.mbw_mib_s += *mbw;
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::stoi(argv[1]) : 20000;
  auto one = heca::bench::run_test_guest({"--vcpus", std::to_string(kVcpus), "--memory", "256M",
                                          "--cmdline", "iters=" + std::to_string(iters)});
  auto three = heca::bench::run_cluster(three_node_description(iters));
  if (!one || !three) return 1;
  auto f1 = figures(*one);
  auto f3 = figures(*three);
  if (!f1 || !f3) {
    std::fprintf(stderr, "could not find the guest's event/mbw lines\n");
    return 1;
  }
  std::printf("test guest, %d vCPUs, iters=%d\n", kVcpus, iters);
  std::printf("  1 node : workloads %.1f ms, memcpy %.0f MiB/s (sum)\n", f1->workloads_ms,
              f1->mbw_mib_s);
  std::printf("  3 nodes: workloads %.1f ms, memcpy %.0f MiB/s (sum)\n", f3->workloads_ms,
              f3->mbw_mib_s);
  std::printf("  ratio 3 nodes / 1 node: workloads time x%.2f, memcpy throughput x%.2f\n",
              f3->workloads_ms / f1->workloads_ms, f3->mbw_mib_s / f1->mbw_mib_s);
  return 0;
}

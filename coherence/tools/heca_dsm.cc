// heca-dsm: joins a coherent-memory cluster and runs one checked workload on it.
// Exit status: 0 pass, 1 a check failed, 2 bad usage or set-up error, 3 a peer was lost.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "coherence/cluster_memory.h"
#include "coherence/tools/workloads.h"
#include "kernel/base/log.h"
#include "kernel/base/size.h"

namespace heca::coherence::tools {
namespace {

struct Args {
  int id = 0;
  std::string peers;
  std::string size = "64M";
  std::string workload = "random";
  std::string homing = "even";
  unsigned threads = 2;
  double seconds = 0;
  std::uint64_t iterations = 10000;
  std::int64_t fault_injection_us = 0;
  std::uint32_t prefetch = 0;
  std::int64_t hold_us = 20;
  bool home_owner = false;
  bool stats = true;
};

Result<ClusterConfig> make_config(const Args& args) {
  auto peers = parse_peers(args.peers);
  if (!peers) return std::unexpected(peers.error());
  auto size = parse_size(args.size);
  if (!size) return std::unexpected(size.error());
  ClusterConfig config{
      .self = static_cast<NodeId>(args.id),
      .peers = std::move(*peers),
      .region_size = *size,
      .homing = args.homing == "interleave" ? Homing::kInterleave : Homing::kEvenRanges,
      .prefetch_window = args.prefetch,
      .min_hold = std::chrono::microseconds(args.hold_us),
      .home_starts_owner = args.home_owner};
  if (args.fault_injection_us > 0) {
    config.fault_injection =
        FaultInjectionConfig{.max_delay = std::chrono::microseconds(args.fault_injection_us),
                             .seed = 1000 + static_cast<std::uint64_t>(args.id)};
  }
  return config;
}

Result<Verdict> run_workload(ClusterMemory& memory, const Args& args) {
  WorkloadOptions options{.threads = args.threads, .iterations = args.iterations};
  if (args.seconds > 0) {
    options.duration = std::chrono::milliseconds(static_cast<std::int64_t>(args.seconds * 1000));
  }
  if (args.workload == "random") return run_random(memory, options);
  if (args.workload == "xadd") return run_xadd(memory, options);
  if (args.workload == "mp") return run_mp(memory, options);
  return run_scan(memory, options);
}

int run(const Args& args) {
  auto config = make_config(args);
  if (!config) {
    std::fprintf(stderr, "heca-dsm: %s\n", config.error().message().c_str());
    return 2;
  }
  const std::size_t nodes = config->peers.size();
  // The tool's policy: workload threads may wait in a fault no node will serve, so a node
  // whose region failed exits at once with code 3 (what the cluster tests expect).
  config->on_fatal = [](const std::string& why) {
    std::fprintf(stderr, "heca: %s\n", why.c_str());
    std::fflush(stderr);
    ::_exit(3);
  };
  auto memory = ClusterMemory::join(std::move(*config));
  if (!memory) {
    std::fprintf(stderr, "heca-dsm: %s\n", memory.error().message().c_str());
    return 2;
  }
  std::printf("node %d joined: %zu nodes, %zu MiB\n", args.id, nodes, (*memory)->size() >> 20);
  std::fflush(stdout);
  auto verdict = run_workload(**memory, args);
  if (!verdict) {
    std::fprintf(stderr, "heca-dsm: %s\n", verdict.error().message().c_str());
    return 1;
  }
  const NodeStats stats = (*memory)->stats();
  if (auto status = (*memory)->leave(); !status) {
    std::fprintf(stderr, "heca-dsm: leaving: %s\n", status.error().message().c_str());
    return 1;
  }
  std::printf("node %d %s: %s\n", args.id, verdict->pass ? "PASS" : "FAIL",
              verdict->summary.c_str());
  if (args.stats) {
    std::printf("node %d stats: %s\nnode %d %s\n", args.id, stats.protocol.to_string().c_str(),
                args.id, stats.messages.to_string().c_str());
  }
  return verdict->pass ? 0 : 1;
}

}  // namespace
}  // namespace heca::coherence::tools

int main(int argc, char** argv) {
  heca::coherence::tools::Args args;
  CLI::App app{"heca-dsm: run a checked workload on coherent memory shared by N processes"};
  app.add_option("--id", args.id, "this node's id (index in --peers)")->required();
  app.add_option("--peers", args.peers, "host:port of every node, in id order")->required();
  app.add_option("--size", args.size, "region size, e.g. 64M");
  app.add_option("--workload", args.workload, "random | xadd | mp | scan")
      ->check(CLI::IsMember({"random", "xadd", "mp", "scan"}));
  app.add_option("--homing", args.homing, "even | interleave")
      ->check(CLI::IsMember({"even", "interleave"}));
  app.add_option("--threads", args.threads, "worker threads")->check(CLI::Range(1U, 64U));
  auto* seconds = app.add_option("--seconds", args.seconds, "run for this long");
  app.add_option("--iterations", args.iterations, "operations per thread")->excludes(seconds);
  app.add_option("--fault-injection-us", args.fault_injection_us,
                 "delay every message by a random 0..D us (reorders across peers)");
  app.add_option("--prefetch", args.prefetch, "read-ahead window in pages");
  app.add_option("--hold-us", args.hold_us, "minimum hold time of a granted page");
  app.add_flag("--home-owner", args.home_owner,
               "every page starts writable at its home (as heca nodes run guests)");
  app.add_flag("!--no-stats", args.stats, "do not print the counters");
  CLI11_PARSE(app, argc, argv);
  heca::log::init(args.id);
  return heca::coherence::tools::run(args);
}

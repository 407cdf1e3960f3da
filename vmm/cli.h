// The heca command line: `heca run ...` parsed with CLI11 into a MachineConfig.
// Every input error becomes one "heca: error: ..." line and exit code 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "kernel/base/result.h"

namespace heca::vmm {

inline constexpr int kExitUsage = 2;

// The options of the multi-node commands: `heca run GUEST.toml` and `heca node --config F --id K`.
struct ClusterArgs {
  std::string config;  // the guest description file
  std::uint32_t id = 0;  // `heca node` only
  double timeout_s = 0;
  bool stats = false;
  double progress_s = 0;  // `heca node`: a progress line on stderr every this many seconds
  std::string litmus;  // a .litmus file to run on the test guest instead of its workloads
  std::uint64_t iterations = 1000;
  std::string litmus_model = "tso";
  std::string control;  // --control PATH: serve a control socket there (vmm/control/README.md)
  std::chrono::steady_clock::time_point start;
};

// Multi-node commands live in a library above this one; the `heca` binary plugs them in.
struct ClusterCommands {
  std::function<int(const ClusterArgs&)> run_cluster;
  std::function<int(const ClusterArgs&)> node;
};

// Runs the heca CLI and returns the process exit code.
[[nodiscard]] int run_cli(int argc, char** argv);
[[nodiscard]] int run_cli(int argc, char** argv, const ClusterCommands& cluster);

}  // namespace heca::vmm

// The heca command line: `heca run|node|ctl|demo` parsed with CLI11 into RunArgs and handed to
// the commands that run a guest. Every input error becomes one "heca: error: ..." line, exit 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vmm/exit_codes.h"

namespace heca::vmm {

// The options of the commands that run a guest: `heca run --guest|--kernel` (one node, this
// process), `heca run GUEST.toml` (every node of a description) and `heca node`.
struct RunArgs {
  std::string config;    // the guest description file (`heca run GUEST.toml`, `heca node`)
  std::uint32_t id = 0;  // `heca node` only
  // `heca run --guest|--kernel` only: the guest the one-node description is made of.
  std::string guest;     // "test" (built in) or a flat image file
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  std::uint32_t vcpus = 1;
  std::string memory = "256M";
  double timeout_s = 0;
  bool stats = false;
  std::string stats_json;  // --stats-json PATH: the same counters as JSON, written at exit
  double progress_s = 0;  // a progress line on stderr every this many seconds; 0: never
  // .litmus files to run on the test guest instead of its workloads, one after the other
  std::vector<std::string> litmus;
  std::uint64_t iterations = 1000;
  std::string litmus_model = "tso";
  std::string control;  // --control PATH: serve a control socket there (vmm/control/README.md)
  std::chrono::steady_clock::time_point start;
};

// The commands that run a guest live in a library above this one (vmm/node); the `heca` binary
// plugs them in.
struct RunCommands {
  std::function<int(const RunArgs&)> run_one_node;  // heca run --guest|--kernel
  std::function<int(const RunArgs&)> run_cluster;   // heca run GUEST.toml
  std::function<int(const RunArgs&)> node;          // heca node
};

// "heca: error: MESSAGE" on stderr; returns kExitUsage.
int fail(const std::string& message);

// Runs the heca CLI and returns the process exit code.
[[nodiscard]] int run_cli(int argc, char** argv, const RunCommands& commands);

}  // namespace heca::vmm

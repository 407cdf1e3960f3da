// `heca ctl SOCKET COMMAND [--json] [--watch [SECONDS]]`: one command to a control socket, its
// reply printed for people (status as a table, stats as aligned lines) or as the raw JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace heca::vmm::control {

// Exit code of `heca ctl` when the server answered with an error reply (or the connection
// broke after it was made); bad input, a missing socket or a refused connection give 2.
inline constexpr int kExitErrorReply = 1;

struct CtlArgs {
  std::string socket;
  std::string command;
  bool json = false;
  std::optional<double> watch_s;  // repeat every this many seconds until interrupted
};

// Runs the command (repeatedly with watch_s) and returns the process exit code.
[[nodiscard]] int run_ctl(const CtlArgs& args);

// The human renderings of a "return" value. Status: one row per vCPU (node, roles, guest
// state, vCPU, APIC id, vCPU state), then one line per stopped node and per node's proxies.
[[nodiscard]] std::string render_status(const nlohmann::json& status);
// Stats: one block per section (vcpus, memory, messages, ...), `name value` lines aligned per
// block; zero counters of single vCPUs and proxies are left out. A supervisor's reply (with
// "nodes") gets one such set of blocks per node.
[[nodiscard]] std::string render_stats(const nlohmann::json& stats);

}  // namespace heca::vmm::control

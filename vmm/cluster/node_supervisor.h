// NodeSupervisor: runs the K node processes of one local cluster, forwards their output line by
// line, and stops them all when one is lost, when the result node ends, or on SIGINT/SIGTERM.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/base/result.h"
#include "vmm/cluster/child_process.h"

namespace heca::vmm::cluster {

// The overall exit code when a node other than the result node was lost.
inline constexpr int kNodeLostExitCode = 1;

struct NodeProcess {
  std::uint32_t node_id = 0;
  std::string address;             // named in messages; may be empty
  std::vector<std::string> argv;   // argv[0] is looked up in PATH
  std::string netns;               // run inside /run/netns/<netns>, or empty
};

enum class OutputStream { kStdout, kStderr };
using LineSink = std::function<void(std::uint32_t node_id, OutputStream, std::string_view line)>;

struct SupervisorOptions {
  std::uint32_t result_node = 0;  // its exit code is the cluster's exit code
  bool prefix_output = true;      // the default sink writes "[node N] line"
  // After the result node ends: how long the others get to exit on their own, and then how long
  // SIGTERM gets before SIGKILL. Losing a node starts at SIGTERM directly.
  std::chrono::milliseconds grace{3000};
  bool handle_signals = true;     // SIGINT/SIGTERM to this process stop the cluster
  LineSink sink;                  // empty: write to this process's stdout/stderr
  // Exit codes with which any node says that the guest stopped on every node (a crash or a
  // timeout there): such an exit is the cluster's result, not a lost node.
  std::vector<int> guest_stop_codes;
};

struct NodeExit {
  std::uint32_t node_id = 0;
  ExitStatus status;
  bool stopped_by_supervisor = false;  // it was sent SIGTERM/SIGKILL before it ended
};

struct ClusterOutcome {
  // 0 when every node exits 0; else the result node's code (128 + signal when it was killed),
  // kNodeLostExitCode when another node was lost, or 128 + signal on SIGINT/SIGTERM.
  int exit_code = 0;
  std::string lost;              // "node N (address) lost: ...", or empty
  std::vector<NodeExit> exits;   // in order of ending
  // Nodes still running `grace` after SIGKILL (a thread that the host kernel does not let go);
  // wait() returns without them.
  std::vector<std::uint32_t> abandoned;
};

// wait() must be called from the thread that called start(): the children are tied to it
// (PR_SET_PDEATHSIG). request_stop() may be called from any thread or a signal handler,
// running() from any thread. At most one supervisor at a time may have handle_signals set.
class NodeSupervisor {
 public:
  [[nodiscard]] static Result<NodeSupervisor> start(std::vector<NodeProcess> nodes,
                                                    SupervisorOptions options);
  NodeSupervisor(NodeSupervisor&&) noexcept;
  NodeSupervisor& operator=(NodeSupervisor&&) noexcept;
  // Kills (SIGKILL) and reaps every node still running.
  ~NodeSupervisor();

  // Blocks until every node has ended, or was abandoned after SIGKILL. Returns within
  // 3 x grace (plus scheduling) of the decision to stop.
  [[nodiscard]] ClusterOutcome wait();
  // Stops the cluster as SIGTERM to this process would.
  void request_stop();

  [[nodiscard]] std::vector<pid_t> pids() const;
  // Whether node `node_id`'s process has been started and not yet reaped (any thread).
  [[nodiscard]] bool running(std::uint32_t node_id) const;

 private:
  struct State;
  explicit NodeSupervisor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// "node 2 (10.77.0.3)" or "node 2" when the address is empty.
[[nodiscard]] std::string node_name(std::uint32_t node_id, std::string_view address);

}  // namespace heca::vmm::cluster

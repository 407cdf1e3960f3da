// ClusterControl: the control socket's target of `heca run GUEST.toml`: it asks every node's own
// socket (PATH.nodeK) and says which node processes are alive; commands fan out to every node.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "vmm/cluster/node_supervisor.h"
#include "vmm/control/control_protocol.h"
#include "vmm/control/slot.h"

namespace heca::vmm::node {

// The control socket of node `node` of a cluster served at `control`: "CONTROL.nodeK".
[[nodiscard]] std::string node_socket_path(const std::string& control, std::uint32_t node);

struct NodeSocket {
  std::uint32_t node = 0;
  std::string address;
  std::string path;
};

// THREADS: attach() and the end of its Loan on the main thread (the supervisor's); the
// ControlTarget methods on the control server's thread. LOCKING: the Slot's, held only while
// asking the supervisor which nodes run (never across a node's socket).
class ClusterControl final : public control::ControlTarget {
 public:
  // How long one node's socket may take to answer before it counts as unreachable.
  static constexpr std::chrono::milliseconds kNodeTimeout{5000};

  explicit ClusterControl(std::vector<NodeSocket> nodes);

  // Liveness comes from `supervisor` until the Loan goes; before, every node counts as alive.
  [[nodiscard]] control::Slot<const cluster::NodeSupervisor>::Loan attach(
      const cluster::NodeSupervisor& supervisor) {
    return supervisor_.lend(supervisor);
  }

  // {"nodes": [{"node": K, "address": ..., "alive": bool, "status": {...}} or "error": ...]}
  [[nodiscard]] Result<nlohmann::json> status() override;
  // The same with "stats".
  [[nodiscard]] Result<nlohmann::json> stats() override;
  // Every node must do it; the error names each node that did not.
  [[nodiscard]] Status pause() override;
  [[nodiscard]] Status resume() override;
  // Every live node is asked; it is enough that one does (each stops the guest everywhere).
  [[nodiscard]] Status stop() override;

 private:
  [[nodiscard]] bool alive(std::uint32_t node);
  [[nodiscard]] Result<nlohmann::json> ask(const NodeSocket& node, std::string_view command);
  [[nodiscard]] nlohmann::json collect(std::string_view command, const char* key);
  [[nodiscard]] Status fan_out(std::string_view command, bool every_node);

  const std::vector<NodeSocket> nodes_;
  control::Slot<const cluster::NodeSupervisor> supervisor_;
};

}  // namespace heca::vmm::node

// NodeControl: the control socket's target on one `heca node`: it answers for the node while
// its VM is being built ("booting") and hands every command to the NodeVm once lent one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/control/control_protocol.h"
#include "vmm/control/slot.h"
#include "vmm/node/node_vm.h"

namespace heca::vmm::node {

// THREADS: attach() and the end of its Loan on the main thread; the ControlTarget methods on
// the control server's thread. LOCKING: the Slot's (held across each call into the NodeVm).
class NodeControl final : public control::ControlTarget {
 public:
  NodeControl(std::uint32_t node, std::vector<std::string> roles);

  // Commands reach `vm` until the Loan goes (before `vm` does).
  [[nodiscard]] control::Slot<NodeVm>::Loan attach(NodeVm& vm) { return vm_.lend(vm); }

  [[nodiscard]] Result<nlohmann::json> status() override;
  [[nodiscard]] Result<nlohmann::json> stats() override;
  [[nodiscard]] Status pause() override;
  [[nodiscard]] Status resume() override;
  [[nodiscard]] Status stop() override;

 private:
  [[nodiscard]] Status booting() const;

  const std::uint32_t node_;
  const std::vector<std::string> roles_;
  control::Slot<NodeVm> vm_;
};

}  // namespace heca::vmm::node

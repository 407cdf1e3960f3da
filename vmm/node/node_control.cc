#include "vmm/node/node_control.h"

#include <fmt/format.h>

namespace heca::vmm::node {

using nlohmann::json;

NodeControl::NodeControl(std::uint32_t node, std::vector<std::string> roles)
    : node_(node), roles_(std::move(roles)) {}

Status NodeControl::booting() const {
  return make_error(fmt::format(
      "node {}: the guest is still booting (joining the cluster); try again when it runs", node_));
}

Result<json> NodeControl::status() {
  return vm_.with([&](NodeVm* vm) {
    if (vm != nullptr) return control::to_json(vm->status());
    return control::to_json(control::NodeStatus{.node = node_, .roles = roles_});
  });
}

Result<json> NodeControl::stats() {
  return vm_.with([&](NodeVm* vm) {
    if (vm != nullptr) return to_json(vm->stats_report());
    return json{{"node", node_}};
  });
}

Status NodeControl::pause() {
  return vm_.with([&](NodeVm* vm) { return vm != nullptr ? vm->pause_vcpus() : booting(); });
}

Status NodeControl::resume() {
  return vm_.with([&](NodeVm* vm) { return vm != nullptr ? vm->resume_vcpus() : booting(); });
}

Status NodeControl::stop() {
  return vm_.with([&](NodeVm* vm) -> Status {
    if (vm == nullptr) return booting();
    vm->stop_by_control();
    return {};
  });
}

}  // namespace heca::vmm::node

#include "vmm/control/node_status.h"

namespace heca::vmm::control {

using nlohmann::json;

std::string_view guest_state_name(GuestState state) {
  switch (state) {
    case GuestState::kBooting:
      return "booting";
    case GuestState::kRunning:
      return "running";
    case GuestState::kPaused:
      return "paused";
    case GuestState::kStopped:
      return "stopped";
  }
  return "unknown";
}

json to_json(const NodeStatus& status) {
  json guest = {{"state", guest_state_name(status.guest)}};
  if (status.exit_code) guest["exit_code"] = *status.exit_code;
  if (status.guest == GuestState::kStopped) guest["reason"] = status.reason;
  json vcpus = json::array();
  for (const auto& v : status.vcpus) {
    vcpus.push_back({{"index", v.index}, {"apic_id", v.apic_id}, {"state", v.state}});
  }
  json proxies = json::array();
  for (const auto& p : status.proxies)
    proxies.push_back({{"apic_id", p.apic_id}, {"node", p.node}});
  return {{"node", status.node},
          {"roles", status.roles},
          {"guest", std::move(guest)},
          {"vcpus", std::move(vcpus)},
          {"proxies", std::move(proxies)}};
}

}  // namespace heca::vmm::control

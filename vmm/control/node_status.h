// NodeStatus: what the `status` command reports of one node (or of a single-node machine): its
// roles, the guest's state as this node sees it, and its vCPUs and proxies. Plain data + JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace heca::vmm::control {

// booting: the VM is being built or its vCPUs have not started; paused: `pause` holds the
// vCPUs; stopped: the guest's outcome is decided (it may still be leaving the cluster).
enum class GuestState : std::uint8_t { kBooting, kRunning, kPaused, kStopped };
[[nodiscard]] std::string_view guest_state_name(GuestState state);

struct VcpuStatus {
  std::uint32_t index = 0;
  std::uint32_t apic_id = 0;
  // Vcpu::describe_state(): "created", "running", "pausing" (asked to pause, still inside
  // KVM_RUN), "paused" (held by its thread), "stopping", "stopped".
  std::string state;
};

// A vCPU of another node, parked here as a proxy that forwards its interrupts.
struct ProxyStatus {
  std::uint32_t apic_id = 0;
  std::uint32_t node = 0;  // the node that runs it
};

struct NodeStatus {
  std::uint32_t node = 0;
  std::vector<std::string> roles;
  GuestState guest = GuestState::kBooting;
  std::optional<int> exit_code;  // with kStopped: the code this node exits with
  std::string reason;            // with kStopped: why, empty when the guest ended by itself
  std::vector<VcpuStatus> vcpus;
  std::vector<ProxyStatus> proxies;
};

// {"node": 1, "roles": [...], "guest": {"state": "stopped", "exit_code": 122, "reason": "..."},
//  "vcpus": [{"index": 2, "apic_id": 2, "state": "running"}], "proxies": [{"apic_id": 0,
//  "node": 0}]}
[[nodiscard]] nlohmann::json to_json(const NodeStatus& status);

}  // namespace heca::vmm::control

#include "vmm/node/cluster_control.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vmm/control/control_client.h"

namespace heca::vmm::node {

using nlohmann::json;

std::string node_socket_path(const std::string& control, std::uint32_t node) {
  return fmt::format("{}.node{}", control, node);
}

ClusterControl::ClusterControl(std::vector<NodeSocket> nodes) : nodes_(std::move(nodes)) {}

bool ClusterControl::alive(std::uint32_t node) {
  return supervisor_.with([node](const cluster::NodeSupervisor* supervisor) {
    return supervisor == nullptr || supervisor->running(node);
  });
}

Result<json> ClusterControl::ask(const NodeSocket& node, std::string_view command) {
  if (!alive(node.node)) return make_error("its process has ended");
  return control::query(node.path, command, kNodeTimeout);
}

json ClusterControl::collect(std::string_view command, const char* key) {
  json nodes = json::array();
  for (const auto& node : nodes_) {
    auto reply = ask(node, command);
    json entry = {{"node", node.node}, {"address", node.address}, {"alive", alive(node.node)}};
    if (reply) {
      entry[key] = std::move(*reply);
    } else {
      entry["error"] = reply.error().message();
    }
    nodes.push_back(std::move(entry));
  }
  return {{"nodes", std::move(nodes)}};
}

Result<json> ClusterControl::status() {
  return collect("status", "status");
}

Result<json> ClusterControl::stats() {
  return collect("stats", "stats");
}

Status ClusterControl::fan_out(std::string_view command, bool every_node) {
  std::vector<std::string> failed;
  std::size_t done = 0;
  for (const auto& node : nodes_) {
    if (auto reply = ask(node, command); reply) {
      ++done;
    } else {
      failed.push_back(fmt::format("node {}: {}", node.node, reply.error().message()));
    }
  }
  if (failed.empty() || (!every_node && done > 0)) return {};
  return make_error(fmt::format("{} failed on {} of {} nodes: {}", command, failed.size(),
                                nodes_.size(), fmt::join(failed, "; ")));
}

Status ClusterControl::pause() {
  return fan_out("pause", true);
}

Status ClusterControl::resume() {
  return fan_out("resume", true);
}

Status ClusterControl::stop() {
  return fan_out("stop", false);
}

}  // namespace heca::vmm::node

#include "vmm/cluster/launch_plan.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <filesystem>
#include <sstream>

#include "kernel/base/check.h"

namespace heca::vmm::cluster {
namespace {

toml::array role_names(const NodeRoles& roles) {
  toml::array names;
  for (const auto& name : roles.names()) names.push_back(name);
  return names;
}

std::int64_t as_toml_integer(std::uint64_t value) {
  HECA_CHECK(value <= static_cast<std::uint64_t>(INT64_MAX));
  return static_cast<std::int64_t>(value);
}

// Absolute, so that the formatted file means the same wherever it is written.
std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(std::filesystem::path(path)).string();
}

toml::table guest_table(const GuestDescription& d) {
  toml::table guest{{"memory", as_toml_integer(d.memory_bytes)},
                    {"kind", d.kind == GuestKind::kLinux ? "linux" : "test"},
                    {"cmdline", d.cmdline}};
  if (!d.kernel.empty()) guest.insert("kernel", absolute_path(d.kernel));
  if (!d.initrd.empty()) guest.insert("initrd", absolute_path(d.initrd));
  if (d.time_dilation != 1) guest.insert("time_dilation", std::int64_t{d.time_dilation});
  return guest;
}

toml::table node_table(const NodeDescription& node) {
  toml::table t{{"id", std::int64_t{node.id}}, {"roles", role_names(node.roles)}};
  if (!node.address.empty()) t.insert("address", node.address);
  if (node.roles.compute) {
    toml::array vcpus;
    for (const std::uint32_t vcpu : node.vcpus) vcpus.push_back(std::int64_t{vcpu});
    t.insert("vcpus", std::move(vcpus));
  }
  if (node.roles.memory) {
    t.insert("memory_share", as_toml_integer(node.memory_share));
    toml::array home;
    for (const MemoryRange& range : node.home) {
      home.push_back(toml::table{{"start", as_toml_integer(range.start)},
                                 {"size", as_toml_integer(range.size)}});
    }
    t.insert("home", std::move(home));
  }
  return t;
}

toml::table transport_table(const GuestDescription& description) {
  toml::table transport{{"kind", "tcp"}, {"base_port", std::int64_t{description.base_port}}};
  if (!description.key_file.empty()) transport.insert("key_file", description.key_file);
  return transport;
}

toml::table coherence_table(const GuestDescription& description) {
  return toml::table{{"min_hold_us", std::int64_t{description.min_hold_us}},
                     {"max_hold_us", std::int64_t{description.max_hold_us}}};
}

}  // namespace

void fill_default_addresses(GuestDescription& description, AddressMode mode) {
  for (auto& node : description.nodes) {
    if (!node.address.empty()) continue;
    node.address =
        mode == AddressMode::kLoopback ? std::string("127.0.0.1") : fmt::format("10.77.0.{}", 1 + node.id);
  }
}

std::string format_guest_description(const GuestDescription& description) {
  toml::array nodes;
  for (const auto& node : description.nodes) nodes.push_back(node_table(node));
  const toml::table root{
      {"guest", guest_table(description)},
      {"transport", transport_table(description)},
      {"coherence", coherence_table(description)},
      {"node", std::move(nodes)}};
  std::ostringstream out;
  out << root << '\n';
  return out.str();
}

std::vector<NodeProcess> plan_node_processes(const GuestDescription& description,
                                             const LaunchOptions& options) {
  HECA_CHECK(options.namespaces.empty() || options.namespaces.size() == description.nodes.size());
  std::vector<NodeProcess> processes;
  for (const auto& node : description.nodes) {
    NodeProcess process{.node_id = node.id,
                        .address = node.address,
                        .argv = {options.heca_binary, "node", "--config", options.config_path,
                                 "--id", std::to_string(node.id)},
                        .netns = options.namespaces.empty() ? std::string()
                                                            : options.namespaces[node.id]};
    process.argv.insert(process.argv.end(), options.extra_args.begin(), options.extra_args.end());
    processes.push_back(std::move(process));
  }
  return processes;
}

}  // namespace heca::vmm::cluster

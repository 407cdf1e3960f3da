// Launch plan: turns a GuestDescription into the node processes of a local cluster
// (`heca node --config FILE --id K` each), with addresses filled for loopback or namespaces.
#pragma once

#include <string>
#include <vector>

#include "vmm/cluster/guest_description.h"
#include "vmm/cluster/node_supervisor.h"

namespace heca::vmm::cluster {

enum class AddressMode {
  kLoopback,    // every node on 127.0.0.1, told apart by port (base_port + id)
  kNamespaces,  // node i in NetnsCluster namespace i at 10.77.0.(1+i)
};

// Gives every node whose address is empty its default for `mode`.
void fill_default_addresses(GuestDescription& description, AddressMode mode);

// The description as a complete TOML file (sizes in bytes, every home range explicit) that
// parses back to an equal GuestDescription. Written for the nodes once addresses are filled.
[[nodiscard]] std::string format_guest_description(const GuestDescription& description);

struct LaunchOptions {
  std::string heca_binary;               // the `heca` executable
  std::string config_path;               // the resolved description every node reads
  std::vector<std::string> extra_args;   // appended to every node's command line
  std::vector<std::string> namespaces;   // empty (loopback) or one netns name per node
};

// One NodeProcess per node, in id order: `heca node --config PATH --id K extra...`.
[[nodiscard]] std::vector<NodeProcess> plan_node_processes(const GuestDescription& description,
                                                           const LaunchOptions& options);

}  // namespace heca::vmm::cluster

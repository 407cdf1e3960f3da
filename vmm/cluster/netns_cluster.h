// NetnsCluster: K network namespaces joined by a bridge (node i at 10.77.0.(1+i)/24), made and
// removed by scripts/netns-cluster so that tests, `heca run` and the script share one recipe.
#pragma once

#include <cstddef>
#include <string>

#include "kernel/base/result.h"

namespace heca::vmm::cluster {

struct NetnsClusterOptions {
  std::string prefix;  // [a-z][a-z0-9]{0,9}; empty: unique to this process and instance
  std::string script;  // path of netns-cluster; empty: the one in this source tree
};

// Owns the namespaces PREFIX-0..PREFIX-(K-1) and PREFIX-br; removes them on destruction.
// Not thread-safe; no traffic ever leaves these namespaces.
class NetnsCluster {
 public:
  // Errors with code EPERM when this process may not create namespaces (callers may fall back
  // to loopback or skip), and with code 0 for any other set-up failure.
  [[nodiscard]] static Result<NetnsCluster> create(std::size_t nodes,
                                                   NetnsClusterOptions options = {});

  NetnsCluster(NetnsCluster&& other) noexcept;
  NetnsCluster& operator=(NetnsCluster&& other) noexcept;
  NetnsCluster(const NetnsCluster&) = delete;
  NetnsCluster& operator=(const NetnsCluster&) = delete;
  ~NetnsCluster();

  [[nodiscard]] std::size_t size() const { return nodes_; }
  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  // The name under /run/netns of node i's namespace (for NodeProcess::netns).
  [[nodiscard]] std::string namespace_name(std::size_t node) const;
  // Node i's address on the bridge: "10.77.0.(1+i)".
  [[nodiscard]] static std::string address(std::size_t node);

  // Removes everything now and reports failure; the destructor then does nothing.
  [[nodiscard]] Status destroy();

 private:
  NetnsCluster(std::size_t nodes, std::string prefix, std::string script)
      : nodes_(nodes), prefix_(std::move(prefix)), script_(std::move(script)) {}

  std::size_t nodes_ = 0;
  std::string prefix_;  // empty once destroyed or moved from
  std::string script_;
};

// True for the error NetnsCluster::create returns when namespaces are not permitted here.
[[nodiscard]] bool namespaces_not_permitted(const Error& error);

}  // namespace heca::vmm::cluster

#include "bench/coherence/two_nodes.h"

#include <cstdio>
#include <cstdlib>
#include <future>

#include "tests/support/loopback_ports.h"

namespace heca::bench {

TwoNodes start_two_nodes(std::size_t region_size,
                         const std::function<void(coherence::ClusterConfig&)>& tune) {
  const auto ports = testing::ReservedPorts::consecutive(2);
  auto join = [&](coherence::NodeId id) {
    coherence::ClusterConfig config{
        .self = id,
        .peers = {{0, "127.0.0.1", ports[0]}, {1, "127.0.0.1", ports[1]}},
        .region_size = region_size,
        .homing = coherence::Homing::kExplicit,
        .home_ranges = {{0, region_size / coherence::kPageSize, 0}}};
    tune(config);
    auto memory = coherence::ClusterMemory::join(std::move(config));
    if (!memory) {
      std::fprintf(stderr, "join node %u: %s\n", id, memory.error().message().c_str());
      std::exit(2);
    }
    return std::move(*memory);
  };
  auto home = std::async(std::launch::async, join, coherence::NodeId{0});
  auto remote = join(1);
  return TwoNodes{home.get(), std::move(remote)};
}

void stop_two_nodes(TwoNodes& nodes) {
  auto home = std::async(std::launch::async, [&] { return nodes.home->leave(); });
  const auto remote = nodes.remote->leave();
  if (!home.get() || !remote) std::fprintf(stderr, "leaving failed\n");
  nodes.home.reset();
  nodes.remote.reset();
}

}  // namespace heca::bench

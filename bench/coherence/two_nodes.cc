#include "bench/coherence/two_nodes.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>

namespace heca::bench {

std::vector<std::uint16_t> free_ports(std::size_t count) {
  std::vector<int> fds;
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(addr);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
    ports.push_back(ntohs(addr.sin_port));
    fds.push_back(fd);
  }
  for (const int fd : fds) ::close(fd);
  return ports;
}

TwoNodes start_two_nodes(std::size_t region_size,
                         const std::function<void(coherence::ClusterConfig&)>& tune) {
  const auto ports = free_ports(2);
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

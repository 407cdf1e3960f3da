#include "coherence/cluster_memory.h"

#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <future>
#include <thread>

#include "kernel/base/log.h"

namespace heca::coherence {

struct ClusterMemory::Parts {
  Parts(ClusterConfig cfg, HomeMap map, kernel::MemfdRegion memfd, kernel::Uffd userfault)
      : config(std::move(cfg)),
        homes(std::move(map)),
        region(std::move(memfd)),
        uffd(std::move(userfault)) {}

  ClusterConfig config;
  HomeMap homes;
  kernel::MemfdRegion region;  // INVARIANT: declared first, destroyed last (uffd borrows it)
  kernel::Uffd uffd;
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<Node> node;
  std::unique_ptr<TcpTransport> tcp;
  std::unique_ptr<FaultInjectionTransport> injector;
  std::thread thread;  // runs *loop; joined before anything above is destroyed
  std::atomic<bool> failed{false};
  std::uint64_t epoch = 0;
};

namespace {

Result<HomeMap> make_homes(const ClusterConfig& config) {
  const std::uint64_t pages = config.region_size / kPageSize;
  const auto nodes = static_cast<std::uint16_t>(config.peers.size());
  switch (config.homing) {
    case Homing::kInterleave:
      if (config.interleave_stride == 0) return make_error("interleave stride must be > 0");
      return HomeMap::interleave(pages, nodes, config.interleave_stride);
    case Homing::kExplicit:
      return HomeMap::from_ranges(pages, nodes, config.home_ranges);
    case Homing::kEvenRanges:
      break;
  }
  return HomeMap::even_ranges(pages, nodes);
}

Status check_config(const ClusterConfig& config) {
  if (config.peers.empty() || config.peers.size() > kMaxNodes) {
    return make_error(
        fmt::format("a cluster has 1..{} nodes, not {}", kMaxNodes, config.peers.size()));
  }
  if (config.self >= config.peers.size()) {
    return make_error(
        fmt::format("node id {} is not among the {} peers", config.self, config.peers.size()));
  }
  if (config.region_size == 0 || config.region_size % kPageSize != 0) {
    return make_error(fmt::format("region size {} is not a positive multiple of {}",
                                  config.region_size, kPageSize));
  }
  return {};
}

// The fatal handler also marks the parts as failed, so a waiting barrier() returns an error.
Node::Options node_options(ClusterMemory::Parts& parts) {
  const ClusterConfig& cfg = parts.config;
  Node::Options options{
      .protocol = {.self = cfg.self,
                   .homes = parts.homes,
                   .min_hold = std::chrono::duration_cast<Nanos>(cfg.min_hold),
                   .max_hold = std::chrono::duration_cast<Nanos>(cfg.max_hold),
                   .prefetch_window = cfg.prefetch_window,
                   .home_starts_owner = cfg.home_starts_owner,
                   .reads_take_ownership = cfg.reads_take_ownership},
      .on_fatal = [p = &parts, user = cfg.on_fatal](const std::string& why) {
        p->failed = true;
        if (user) user(why);
      }};
  for (const PeerAddress& peer : cfg.peers) {
    options.peer_names.push_back(fmt::format("{}:{}", peer.host, peer.port));
  }
  return options;
}

}  // namespace

// The loop thread: runs the node until stop_loop().
void ClusterMemory::run_loop(Parts& parts) {
  if (auto status = parts.loop->run(); !status) {
    spdlog::error("event loop: {}", status.error().message());
  }
}

void ClusterMemory::stop_loop() {
  parts_->loop->stop();
  parts_->thread.join();
}

Result<std::vector<PeerAddress>> parse_peers(const std::string& list) {
  std::vector<PeerAddress> peers;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, end - start);
    const std::size_t colon = item.rfind(':');
    std::uint16_t port = 0;
    const char* port_end = item.data() + item.size();
    if (colon == std::string::npos ||
        std::from_chars(item.data() + colon + 1, port_end, port).ptr != port_end) {
      return make_error("peer '" + item + "' is not host:port");
    }
    peers.push_back({static_cast<NodeId>(peers.size()), item.substr(0, colon), port});
    start = end + 1;
  }
  return peers;
}

Result<std::unique_ptr<ClusterMemory>> ClusterMemory::join(ClusterConfig config) {
  if (auto status = check_config(config); !status) return std::unexpected(status.error());
  auto homes = make_homes(config);
  if (!homes) return std::unexpected(homes.error());
  auto region = kernel::MemfdRegion::create(config.region_size, "heca-dsm");
  if (!region) return wrap_error(region.error(), "creating the region");
  auto uffd = kernel::Uffd::create(*region);
  if (!uffd) return wrap_error(uffd.error(), "registering userfaultfd");
  auto parts = std::make_unique<Parts>(std::move(config), std::move(*homes), std::move(*region),
                                       std::move(*uffd));
  auto loop = EventLoop::create();
  if (!loop) return wrap_error(loop.error(), "creating the event loop");
  parts->loop = std::make_unique<EventLoop>(std::move(*loop));

  const ClusterConfig& cfg = parts->config;
  parts->node =
      std::make_unique<Node>(*parts->loop, parts->region, parts->uffd, node_options(*parts));
  auto tcp = TcpTransport::create(
      *parts->loop,
      TcpTransportConfig{.self = cfg.self,
                         .peers = cfg.peers,
                         .connect_timeout = cfg.connect_timeout,
                         .key = cfg.key},
      *parts->node);
  if (!tcp) return wrap_error(tcp.error(), "creating the TCP transport");
  parts->tcp = std::move(*tcp);
  if (cfg.fault_injection) {
    parts->injector =
        std::make_unique<FaultInjectionTransport>(*parts->loop, *parts->tcp, *cfg.fault_injection);
    parts->node->set_transport(*parts->injector);
  } else {
    parts->node->set_transport(*parts->tcp);
  }
  if (auto status = parts->node->start(); !status) return std::unexpected(status.error());
  if (auto status = parts->tcp->connect_all(); !status) {
    return wrap_error(status.error(), "connecting to the cluster");
  }
  parts->thread = std::thread([p = parts.get()] { run_loop(*p); });
  return std::unique_ptr<ClusterMemory>(new ClusterMemory(std::move(parts)));
}

ClusterMemory::ClusterMemory(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

ClusterMemory::~ClusterMemory() {
  if (parts_->thread.joinable()) stop_loop();
}

std::uint8_t* ClusterMemory::data() const {
  return parts_->region.guest_view();
}
std::size_t ClusterMemory::size() const {
  return parts_->region.size();
}
NodeId ClusterMemory::self() const {
  return parts_->config.self;
}
const HomeMap& ClusterMemory::homes() const {
  return parts_->homes;
}

Status ClusterMemory::run_barrier(bool final, std::chrono::milliseconds timeout) {
  if (!parts_->thread.joinable()) return make_error("this node has left the cluster");
  // Shared: a failed barrier returns while the loop may still hold the callback.
  auto reached = std::make_shared<std::promise<void>>();
  auto future = reached->get_future();
  const std::uint64_t epoch = ++parts_->epoch;
  parts_->loop->post([this, epoch, final, reached] {
    parts_->node->arrive(epoch, final, [reached] { reached->set_value(); });
  });
  const auto start = std::chrono::steady_clock::now();
  while (future.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (parts_->failed) return make_error("the cluster failed during a barrier");
    if (timeout != kNoTimeout && std::chrono::steady_clock::now() - start > timeout) {
      return make_error(fmt::format("not every node reached the {} barrier within {} ms",
                                    final ? "final" : "next", timeout.count()));
    }
  }
  return {};
}

Status ClusterMemory::barrier() {
  return run_barrier(false, kNoTimeout);
}

// Messages still held back by the fault injector would be dropped with it, among them this
// node's final barrier: wait until it has handed everything to TCP (the kernel then delivers
// what is queued before the FIN).
void ClusterMemory::drain_injector() {
  if (!parts_->injector) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline && !parts_->failed) {
    auto empty = std::make_shared<std::promise<bool>>();
    auto future = empty->get_future();
    parts_->loop->post([this, empty] { empty->set_value(parts_->injector->delayed_count() == 0); });
    if (future.get()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Status ClusterMemory::leave(std::chrono::milliseconds timeout) {
  if (auto status = run_barrier(true, timeout); !status) return status;
  drain_injector();
  stop_loop();
  return {};
}

NodeStats ClusterMemory::stats() {
  if (!parts_->thread.joinable()) return parts_->node->stats();
  auto result = std::make_shared<std::promise<NodeStats>>();
  auto future = result->get_future();
  parts_->loop->post([this, result] { result->set_value(parts_->node->stats()); });
  return future.get();
}

}  // namespace heca::coherence

#include "io-aggregation/tests/io_cluster.h"

#include <fmt/format.h>

#include <algorithm>

#include "io-aggregation/debug_exit.h"
#include "io-aggregation/uart_8250.h"
#include "kernel/base/check.h"

namespace heca::io::testing {
namespace {

// Reads 0x10 + offset-in-access per byte; ignores writes.
class ValueDevice final : public IoDevice {
 public:
  void read(std::uint64_t /*offset*/, std::span<std::uint8_t> data) override {
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(0x10 + i);
  }
  void write(std::uint64_t /*offset*/, std::span<const std::uint8_t> /*data*/) override {}
};

// Plain memory behind MMIO.
class ScratchDevice final : public IoDevice {
 public:
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    const std::lock_guard lock(mu_);
    std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset), data.size(), data.begin());
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    const std::lock_guard lock(mu_);
    std::copy(data.begin(), data.end(), bytes_.begin() + static_cast<std::ptrdiff_t>(offset));
  }

 private:
  std::mutex mu_;
  std::vector<std::uint8_t> bytes_ = std::vector<std::uint8_t>(kScratchSize + kMaxAccessSize);
};

// An I/O node that receives requests and never answers them.
class SilentHandler final : public coherence::TransportHandler {
 public:
  explicit SilentHandler(std::shared_ptr<std::atomic<int>> requests)
      : requests_(std::move(requests)) {}
  std::span<std::uint8_t> payload_destination(NodeId, const coherence::wire::Header&) override {
    return {};
  }
  void on_message(NodeId, const coherence::wire::Header&, std::span<const std::uint8_t>) override {
    requests_->fetch_add(1);
  }
  void on_peer_lost(NodeId, const Error&) override {}

 private:
  std::shared_ptr<std::atomic<int>> requests_;
};

}  // namespace

bool Events::saw(const std::string& needle, std::chrono::milliseconds timeout) const {
  return wait_for(
      [&] {
        const std::lock_guard lock(mu_);
        return std::any_of(events_.begin(), events_.end(), [&](const std::string& e) {
          return e.find(needle) != std::string::npos;
        });
      },
      timeout);
}

IoCluster::IoCluster(int compute_nodes, bool silent_io_node,
                     std::chrono::milliseconds reply_timeout) {
  std::vector<NodeId> ids;
  for (int i = 0; i <= compute_nodes; ++i) {
    ids.push_back(static_cast<NodeId>(i));
    events_[static_cast<NodeId>(i)] = std::make_unique<Events>();
  }
  add_io_node(std::vector<NodeId>(ids.begin() + 1, ids.end()), silent_io_node);
  for (std::size_t i = 1; i < ids.size(); ++i) add_compute_node(ids[i], reply_timeout);
}

IoCluster::~IoCluster() {
  for (auto& [id, node] : nodes_) node->stop();
}

coherence::TcpTransportConfig IoCluster::config(NodeId self, const std::vector<NodeId>& ids) const {
  coherence::TcpTransportConfig c{
      .self = self, .peers = {}, .connect_timeout = std::chrono::seconds(10)};
  for (const NodeId id : ids) c.peers.push_back({id, "127.0.0.1", 0});
  return c;
}

void IoCluster::add_transport(TestNode& node, coherence::TcpTransportConfig c,
                              coherence::TransportHandler& handler) {
  auto transport = coherence::TcpTransport::create(node.loop, std::move(c), handler);
  HECA_CHECK(transport.has_value());
  node.transport = std::move(*transport);
}

void IoCluster::add_io_node(std::vector<NodeId> peers, bool silent) {
  auto loop = coherence::EventLoop::create();
  HECA_CHECK(loop.has_value());
  auto node = std::make_unique<TestNode>(std::move(*loop));
  Events& events = *events_.at(0);
  auto uart = std::make_shared<Uart8250>(
      [this](std::string_view bytes) {
        const std::lock_guard lock(console_mu_);
        console_.append(bytes);
      },
      [](bool) {});
  HECA_CHECK(bus_.add(AddressSpace::kPio, kUartPort, Uart8250::kRegisterCount, uart));
  HECA_CHECK(bus_.add(AddressSpace::kPio, kValuePort, 4, std::make_shared<ValueDevice>()));
  HECA_CHECK(
      bus_.add(AddressSpace::kMmio, kScratchBase, kScratchSize, std::make_shared<ScratchDevice>()));
  TestNode* raw = node.get();
  auto debug = std::make_shared<DebugExitDevice>(
      [raw](std::uint32_t code) { raw->server->broadcast_guest_exit(code); }, [](std::uint32_t) {});
  HECA_CHECK(
      bus_.add(AddressSpace::kPio, DebugExitDevice::kBasePort, DebugExitDevice::kPortCount, debug));
  std::vector<NodeId> ids = peers;
  ids.push_back(0);
  IoServerConfig server_config{.self = 0, .peers = peers, .on_peer_failed = {}};
  server_config.on_peer_failed = [&events](NodeId peer, const Error& why) {
    events.add(fmt::format("peer {} {}", peer, why.message()));
  };
  node->server = std::make_unique<IoServer>(node->loop, bus_, std::move(server_config));
  if (silent) {
    node->other_handler = std::make_unique<SilentHandler>(silent_requests_);
    add_transport(*node, config(0, ids), *node->other_handler);
  } else {
    add_transport(*node, config(0, ids), *node->server);
    node->server->set_transport(*node->transport);
  }
  nodes_[0] = std::move(node);
}

void IoCluster::add_compute_node(NodeId id, std::chrono::milliseconds reply_timeout) {
  auto loop = coherence::EventLoop::create();
  HECA_CHECK(loop.has_value());
  auto node = std::make_unique<TestNode>(std::move(*loop));
  Events& events = *events_.at(id);
  IoForwarderConfig c{.self = id, .io_node = 0, .reply_timeout = reply_timeout};
  c.on_guest_exit = [&events](std::uint32_t code) { events.add(fmt::format("exit {}", code)); };
  c.on_link_failed = [&events](const Error& why) { events.add("link " + why.message()); };
  node->forwarder = std::make_unique<IoForwarder>(node->loop, std::move(c));
  add_transport(*node, config(id, {0, id}), *node->forwarder);
  node->forwarder->set_transport(*node->transport);
  nodes_[id] = std::move(node);
}

bool IoCluster::start() {
  for (auto& [id, node] : nodes_) {
    for (auto& [peer, other] : nodes_) {
      if (peer == id || (id != 0 && peer != 0)) continue;
      HECA_CHECK(
          node->transport->set_peer_address({peer, "127.0.0.1", other->transport->listen_port()}));
    }
  }
  for (auto& [id, node] : nodes_) {
    TestNode* n = node.get();
    n->thread = std::thread([n] {
      n->connect_status = n->transport->connect_all();
      n->connect_done = true;
      HECA_CHECK(n->loop.run().has_value());
    });
  }
  const bool done = wait_for([&] {
    return std::all_of(nodes_.begin(), nodes_.end(),
                       [](const auto& e) { return e.second->connect_done.load(); });
  });
  return done && std::all_of(nodes_.begin(), nodes_.end(),
                             [](const auto& e) { return e.second->connect_status.has_value(); });
}

void IoCluster::kill(NodeId id) {
  TestNode& node = *nodes_.at(id);
  node.stop();
  node.transport.reset();
}

std::string IoCluster::console() const {
  const std::lock_guard lock(console_mu_);
  return console_;
}

}  // namespace heca::io::testing

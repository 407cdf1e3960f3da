// Test support for I/O forwarding: in-process nodes, each with its own EventLoop thread and a
// real TcpTransport on 127.0.0.1. Node 0 is the I/O node (IoServer + devices), the rest forward.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coherence/event_loop.h"
#include "coherence/tcp_transport.h"
#include "io-aggregation/io_bus.h"
#include "io-aggregation/io_forwarder.h"
#include "io-aggregation/io_server.h"
#include "tests/support/wait.h"

namespace heca::io::testing {

inline constexpr std::uint16_t kUartPort = 0x3f8;
inline constexpr std::uint16_t kValuePort = 0x600;  // reads 0x10, 0x11, ... per byte
inline constexpr std::uint64_t kScratchBase = 0xd000'0000;
inline constexpr std::uint64_t kScratchSize = 0x1000;
inline constexpr std::uint16_t kUnclaimedPort = 0x700;

using heca::testing::wait_for;

// What the nodes report through their callbacks; thread-safe.
class Events {
 public:
  void add(const std::string& what) {
    const std::lock_guard lock(mu_);
    events_.push_back(what);
  }
  std::vector<std::string> all() const {
    const std::lock_guard lock(mu_);
    return events_;
  }
  // True when some event contains `needle` (polled with a deadline).
  bool saw(const std::string& needle,
           std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

// One node process: a loop thread, a transport and either a server or a forwarder.
struct TestNode {
  explicit TestNode(coherence::EventLoop l) : loop(std::move(l)) {}
  ~TestNode() { stop(); }
  void stop() {
    loop.stop();
    if (thread.joinable()) thread.join();
  }
  coherence::EventLoop loop;
  std::unique_ptr<IoServer> server;
  std::unique_ptr<IoForwarder> forwarder;
  std::unique_ptr<coherence::TransportHandler> other_handler;
  std::unique_ptr<coherence::TcpTransport> transport;
  std::thread thread;
  std::atomic<bool> connect_done{false};
  Status connect_status;
};

// Node 0 serves a bus with a UART (console captured), a value port, an MMIO scratch area and
// the debug-exit device (which broadcasts GuestExit); nodes 1..compute_nodes forward to it.
class IoCluster {
 public:
  explicit IoCluster(int compute_nodes, bool silent_io_node = false,
                     std::chrono::milliseconds reply_timeout = std::chrono::seconds(30));
  ~IoCluster();

  // Connects every node; false (with the reason logged) if that fails.
  [[nodiscard]] bool start();
  IoForwarder& forwarder(NodeId id) { return *nodes_.at(id)->forwarder; }
  IoServer& server() { return *nodes_.at(0)->server; }
  // Stops the node's loop and closes its connections, as if its process died.
  void kill(NodeId id);
  [[nodiscard]] std::string console() const;
  // Per node: "exit <code>", "irq <apic> <vector>", "link <why>" (forwarders) and
  // "peer <id> <why>" (the server).
  Events& events(NodeId id) { return *events_.at(id); }
  // Requests node 0 saw when it is silent (it never replies).
  [[nodiscard]] int silent_requests() const { return silent_requests_->load(); }

 private:
  void add_io_node(std::vector<NodeId> peers, bool silent);
  void add_compute_node(NodeId id, std::chrono::milliseconds reply_timeout);
  coherence::TcpTransportConfig config(NodeId self, const std::vector<NodeId>& ids) const;
  void add_transport(TestNode& node, coherence::TcpTransportConfig config,
                     coherence::TransportHandler& handler);

  IoBus bus_;
  mutable std::mutex console_mu_;
  std::string console_;  // GUARDED_BY(console_mu_)
  std::shared_ptr<std::atomic<int>> silent_requests_ = std::make_shared<std::atomic<int>>(0);
  std::map<NodeId, std::unique_ptr<Events>> events_;
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
};

}  // namespace heca::io::testing

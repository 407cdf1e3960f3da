// TcpTransport: coherence messages over one TCP connection per node pair, driven by EventLoop.
// Connections are opened by the lower node id, introduced by a hello carrying the node id.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coherence/event_loop.h"
#include "coherence/peer_auth.h"
#include "coherence/transport.h"
#include "coherence/types.h"
#include "kernel/base/fd.h"
#include "kernel/base/result.h"

namespace heca::coherence {

struct PeerAddress {
  NodeId id = 0;
  std::string host;        // IPv4 dotted quad
  std::uint16_t port = 0;  // 0 for self: listen on an ephemeral port (see listen_port())
};

struct TcpTransportConfig {
  NodeId self = 0;
  std::vector<PeerAddress> peers;  // all nodes, including self (its entry gives the listen address)
  std::chrono::milliseconds connect_timeout{10000};
  // A peer whose link is silent this long (no ack for sent data, no keepalive answer) is
  // lost, even if its host vanished without closing the connection.
  std::chrono::milliseconds dead_peer_timeout{4000};
  // What every node of the cluster holds; both ends of each connection prove it before any
  // frame crosses (coherence/peer_auth.h). The all-zero default is for in-process tests.
  ClusterKey key;
};

// Sets TCP_NODELAY, and keepalive plus TCP_USER_TIMEOUT so a dead link is detected within
// about `dead_peer_timeout`. Used on both connected and accepted node sockets.
[[nodiscard]] Status tune_node_socket(int fd, std::chrono::milliseconds dead_peer_timeout);

class TcpPeer;

// Thread-safety: everything on the EventLoop's thread (which also runs connect_all()).
// INVARIANT: the EventLoop and the TransportHandler outlive the transport.
class TcpTransport final : public Transport {
 public:
  // Validates the config (self listed once, ids unique) and starts listening.
  [[nodiscard]] static Result<std::unique_ptr<TcpTransport>> create(EventLoop& loop,
                                                                    TcpTransportConfig config,
                                                                    TransportHandler& handler);
  ~TcpTransport() override;
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  // The bound listen port (useful when the config asked for port 0).
  [[nodiscard]] std::uint16_t listen_port() const { return listen_port_; }
  // Updates a peer's address before connect_all() (e.g. once its ephemeral port is known).
  [[nodiscard]] Status set_peer_address(const PeerAddress& address);
  // Runs the loop until every peer is connected and has said hello, or fails after
  // connect_timeout (or as soon as a connected peer is lost) naming the missing peers.
  // Outgoing connections refused meanwhile (peer not started yet) are retried every 50 ms.
  [[nodiscard]] Status connect_all();
  // True when the peer has completed the hello and has not been lost.
  [[nodiscard]] bool connected(NodeId peer) const;
  // Bytes accepted by send() and not yet written to any socket.
  [[nodiscard]] std::size_t queued_bytes() const;
  [[nodiscard]] std::chrono::milliseconds dead_peer_timeout() const { return dead_peer_timeout_; }
  // Incoming connections refused so far because their hello or proof was wrong (e.g. a
  // process without the cluster key); each one was logged with its address.
  [[nodiscard]] std::uint64_t rejected_connections() const { return rejected_; }

  // Writes at once when the connection is idle; otherwise copies into the peer's output
  // queue (unbounded), flushed on EPOLLOUT. Before the hello exchange completes messages
  // are queued. Fails for an unknown or lost peer; a write error also loses the peer
  // (on_peer_lost follows from the loop).
  [[nodiscard]] Status send(NodeId to, const wire::Header& header,
                            std::span<const std::uint8_t> payload) override;
  [[nodiscard]] NodeId self() const override { return self_; }
  void disconnect(NodeId peer, const Error& why) override;

 private:
  friend class TcpPeer;  // reports readiness and failures, reads loop() and handler()
  struct Pending;        // an accepted connection that has not proved the cluster key yet
  TcpTransport(EventLoop& loop, TcpTransportConfig config, TransportHandler& handler);
  [[nodiscard]] Status listen();
  void on_accept();
  void on_pending_readable(int fd);
  void on_pending_hello(Pending& pending);
  void on_pending_proof(Pending& pending);
  [[nodiscard]] const ClusterKey& key() const { return key_; }
  void drop_pending(int fd, const std::string& why);
  void peer_ready(TcpPeer& peer);
  void peer_failed(TcpPeer& peer, const Error& why);
  [[nodiscard]] EventLoop& loop() { return loop_; }
  [[nodiscard]] TransportHandler& handler() { return handler_; }
  [[nodiscard]] Status wait_for_peers(std::chrono::steady_clock::time_point deadline);
  void start_connect(NodeId peer);
  void schedule_reconnect(NodeId peer, const Error& why);
  [[nodiscard]] TcpPeer* find_peer(NodeId id) const;
  [[nodiscard]] std::string missing_peers() const;

  EventLoop& loop_;
  TransportHandler& handler_;
  NodeId self_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds dead_peer_timeout_;
  std::vector<PeerAddress> addresses_;
  ClusterKey key_;
  std::uint64_t rejected_ = 0;
  std::vector<std::unique_ptr<TcpPeer>> peers_;  // every node except self
  std::vector<std::unique_ptr<Pending>> pending_;
  Fd listen_fd_;
  std::uint16_t listen_port_ = 0;
  bool connecting_ = false;  // connect_all() is running: failed outgoing connects are retried
  std::vector<EventLoop::TimerId> reconnect_timers_;
  std::map<NodeId, std::string> last_error_;  // why a not-yet-connected peer is not connected
  // Lets callbacks posted to the loop notice that the transport is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace heca::coherence

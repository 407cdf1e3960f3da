#include "coherence/tcp_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "coherence/tcp_peer.h"
#include "kernel/base/log.h"

namespace heca::coherence {
namespace {

constexpr auto kReconnectDelay = std::chrono::milliseconds(50);

Result<sockaddr_in> ipv4_address(const PeerAddress& address) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(address.port);
  if (::inet_pton(AF_INET, address.host.c_str(), &sa.sin_addr) != 1) {
    return make_error(
        "node " + std::to_string(address.id) + ": '" + address.host + "' is not an IPv4 address",
        EINVAL);
  }
  return sa;
}

Status validate(const TcpTransportConfig& config) {
  std::set<NodeId> ids;
  for (const auto& peer : config.peers) {
    if (auto sa = ipv4_address(peer); !sa) return std::unexpected(sa.error());
    if (!ids.insert(peer.id).second) {
      return make_error("transport config lists node " + std::to_string(peer.id) + " twice",
                        EINVAL);
    }
  }
  if (!ids.contains(config.self)) {
    return make_error(
        "transport config does not list self (node " + std::to_string(config.self) + ")", EINVAL);
  }
  return {};
}

}  // namespace

// An accepted connection: its hello, then (after our reply) its proof of the cluster key.
// Only exactly these bytes are read, so every later byte stays in the socket for the TcpPeer.
struct TcpTransport::Pending {
  Fd socket;
  std::string from;  // "127.0.0.1:41234", for messages
  bool hello_done = false;
  std::array<std::uint8_t, std::max(kHelloSize, kProofSize)> bytes{};  // hello, then proof
  std::size_t received = 0;
  Hello hello;
  Nonce nonce{};  // ours, sent in the reply
};

namespace {

std::string remote_address(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return "an unknown address";
  char host[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(sa.sin_port));
}

}  // namespace

TcpTransport::TcpTransport(EventLoop& loop, TcpTransportConfig config, TransportHandler& handler)
    : loop_(loop),
      handler_(handler),
      self_(config.self),
      connect_timeout_(config.connect_timeout),
      dead_peer_timeout_(config.dead_peer_timeout),
      addresses_(std::move(config.peers)),
      key_(config.key) {}

TcpTransport::~TcpTransport() {
  *alive_ = false;
  for (const auto id : reconnect_timers_) loop_.cancel_timer(id);
  for (const auto& pending : pending_) loop_.remove_fd(pending->socket.get());
  peers_.clear();
  if (listen_fd_) loop_.remove_fd(listen_fd_.get());
}

Result<std::unique_ptr<TcpTransport>> TcpTransport::create(EventLoop& loop,
                                                           TcpTransportConfig config,
                                                           TransportHandler& handler) {
  if (auto s = validate(config); !s) return std::unexpected(s.error());
  std::unique_ptr<TcpTransport> transport(new TcpTransport(loop, std::move(config), handler));
  for (const auto& address : transport->addresses_) {
    if (address.id == transport->self_) continue;
    transport->peers_.push_back(std::make_unique<TcpPeer>(*transport, address));
  }
  if (auto s = transport->listen(); !s) return std::unexpected(s.error());
  return transport;
}

Status tune_node_socket(int fd, std::chrono::milliseconds dead_peer_timeout) {
  // Keepalive probes start after a quarter of the timeout of silence; TCP_USER_TIMEOUT then
  // bounds both unanswered probes and unacknowledged data.
  const int idle_s = std::max(1, static_cast<int>(dead_peer_timeout.count() / 4000));
  const auto user_timeout_ms = static_cast<unsigned>(dead_peer_timeout.count());
  const int one = 1;
  const int probes = 3;
  const bool ok =
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0 &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s)) == 0 &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle_s, sizeof(idle_s)) == 0 &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes)) == 0 &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
                   sizeof(user_timeout_ms)) == 0;
  if (!ok) return errno_error("tuning a node socket (nodelay, keepalive, user timeout)");
  return {};
}

Status TcpTransport::listen() {
  const auto self = std::ranges::find(addresses_, self_, &PeerAddress::id);
  auto sa = ipv4_address(*self);
  if (!sa) return std::unexpected(sa.error());
  Fd s{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!s) return errno_error("listen socket");
  const int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const std::string where = self->host + ":" + std::to_string(self->port);
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof(*sa)) != 0) {
    return errno_error("node " + std::to_string(self_) + ": bind " + where);
  }
  if (::listen(s.get(), 64) != 0) return errno_error("listen on " + where);
  socklen_t len = sizeof(*sa);
  if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&*sa), &len) != 0) {
    return errno_error("getsockname");
  }
  listen_port_ = ntohs(sa->sin_port);
  listen_fd_ = std::move(s);
  return loop_.add_fd(listen_fd_.get(), EPOLLIN, [this](std::uint32_t) { on_accept(); });
}

Status TcpTransport::set_peer_address(const PeerAddress& address) {
  TcpPeer* peer = find_peer(address.id);
  if (peer == nullptr)
    return make_error("set_peer_address: unknown node " + std::to_string(address.id), EINVAL);
  peer->set_address(address);
  return {};
}

void TcpTransport::on_accept() {
  while (true) {
    Fd s{::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
    if (!s) {
      if (errno != EAGAIN && errno != EINTR)
        spdlog::error("node {}: accept: {}", self_, std::strerror(errno));
      return;
    }
    if (auto tuned = tune_node_socket(s.get(), dead_peer_timeout_); !tuned) {
      spdlog::error("node {}: {}", self_, tuned.error().message());
      continue;
    }
    const int fd = s.get();
    auto pending = std::make_unique<Pending>();
    pending->from = remote_address(fd);
    pending->socket = std::move(s);
    auto added = loop_.add_fd(fd, EPOLLIN | EPOLLRDHUP,
                              [this, fd](std::uint32_t) { on_pending_readable(fd); });
    if (!added) {
      spdlog::error("node {}: {}", self_, added.error().message());
      continue;
    }
    pending_.push_back(std::move(pending));
  }
}

void TcpTransport::on_pending_readable(int fd) {
  const auto it =
      std::ranges::find_if(pending_, [fd](const auto& p) { return p->socket.get() == fd; });
  if (it == pending_.end()) return;
  Pending& p = **it;
  const std::size_t want = p.hello_done ? kProofSize : kHelloSize;
  const ssize_t n = ::read(fd, p.bytes.data() + p.received, want - p.received);
  const char* stage = p.hello_done ? "proof" : "hello";
  if (n == 0) return drop_pending(fd, std::string("connection closed before its ") + stage);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      drop_pending(fd, std::string("read ") + stage + ": " + std::strerror(errno));
    }
    return;
  }
  p.received += static_cast<std::size_t>(n);
  if (p.received < want) return;
  p.received = 0;
  if (p.hello_done) return on_pending_proof(p);
  on_pending_hello(p);
}

// A valid hello from a node that connects to us: reply with our nonce and our proof.
void TcpTransport::on_pending_hello(Pending& p) {
  const int fd = p.socket.get();
  const auto hello = decode_hello(p.bytes);
  if (!hello) return drop_pending(fd, hello.error().message());
  const NodeId id = hello->id;
  TcpPeer* peer = find_peer(id);
  if (peer == nullptr) return drop_pending(fd, "hello from unknown node " + std::to_string(id));
  if (id > self_) {
    return drop_pending(
        fd, "hello from node " + std::to_string(id) + ", which must accept, not connect");
  }
  if (peer->state() != TcpPeer::State::kIdle) {
    return drop_pending(fd, "duplicate connection from node " + std::to_string(id));
  }
  p.hello = *hello;
  p.nonce = fresh_nonce();
  std::array<std::uint8_t, kHelloReplySize> reply{};
  const auto head = encode_hello({.id = self_, .nonce = p.nonce});
  const auto proof = encode_proof(self_, accept_mac(key_, id, self_, p.hello.nonce, p.nonce));
  std::ranges::copy(head, reply.begin());
  std::ranges::copy(proof, reply.begin() + kHelloSize);
  // The first bytes written on a fresh socket: they fit its send buffer.
  if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) {
    return drop_pending(fd, std::string("sending the hello reply: ") + std::strerror(errno));
  }
  p.hello_done = true;
}

// The connector's proof: right, and the connection becomes node `id`'s; wrong, and nothing
// more is read from it.
void TcpTransport::on_pending_proof(Pending& p) {
  const int fd = p.socket.get();
  const NodeId id = p.hello.id;
  const Mac expected = connect_mac(key_, id, self_, p.hello.nonce, p.nonce);
  const auto mac =
      decode_proof(std::span<const std::uint8_t, kProofSize>(p.bytes.data(), kProofSize), id);
  if (!mac) {
    return drop_pending(fd, "a connection claiming to be node " + std::to_string(id) +
                                " sent no key proof: " + mac.error().message());
  }
  if (!mac_matches(expected, *mac)) {
    return drop_pending(fd, "a connection claiming to be node " + std::to_string(id) +
                                " failed authentication (wrong cluster key, or a replayed "
                                "handshake); nothing was served to it");
  }
  TcpPeer* peer = find_peer(id);
  if (peer->state() != TcpPeer::State::kIdle) {
    return drop_pending(fd, "duplicate connection from node " + std::to_string(id));
  }
  const auto it =
      std::ranges::find_if(pending_, [fd](const auto& q) { return q->socket.get() == fd; });
  Fd socket = std::move(p.socket);
  loop_.remove_fd(fd);
  pending_.erase(it);
  if (auto s = peer->adopt_accepted(std::move(socket)); !s) {
    spdlog::error("node {}: accepting node {}: {}", self_, id, s.error().message());
  }
}

void TcpTransport::drop_pending(int fd, const std::string& why) {
  const auto it =
      std::ranges::find_if(pending_, [fd](const auto& p) { return p->socket.get() == fd; });
  const std::string from = it == pending_.end() ? std::string("?") : (*it)->from;
  ++rejected_;
  spdlog::error("node {}: rejected incoming connection from {}: {}", self_, from, why);
  loop_.remove_fd(fd);
  std::erase_if(pending_, [fd](const auto& p) { return p->socket.get() == fd; });
}

Status TcpTransport::connect_all() {
  const auto deadline = std::chrono::steady_clock::now() + connect_timeout_;
  connecting_ = true;
  for (const auto& peer : peers_) {
    if (peer->id() > self_ && peer->state() == TcpPeer::State::kIdle) start_connect(peer->id());
  }
  Status result = wait_for_peers(deadline);
  connecting_ = false;
  for (const auto id : reconnect_timers_) loop_.cancel_timer(id);
  reconnect_timers_.clear();
  return result;
}

Status TcpTransport::wait_for_peers(std::chrono::steady_clock::time_point deadline) {
  const auto in_state = [this](TcpPeer::State state) {
    return std::ranges::count_if(peers_, [state](const auto& p) { return p->state() == state; });
  };
  const std::string who = "node " + std::to_string(self_) + ": connect_all ";
  while (in_state(TcpPeer::State::kReady) != std::ssize(peers_)) {
    if (in_state(TcpPeer::State::kLost) > 0) {
      return make_error(who + "failed; missing " + missing_peers(), ECONNRESET);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return make_error(who + "timed out after " + std::to_string(connect_timeout_.count()) +
                            " ms; missing " + missing_peers(),
                        ETIMEDOUT);
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    if (auto s = loop_.run_once(std::min(left, std::chrono::milliseconds(100))); !s) return s;
  }
  return {};
}

void TcpTransport::start_connect(NodeId id) {
  TcpPeer* peer = find_peer(id);
  if (auto s = peer->start_connect(); !s) schedule_reconnect(id, s.error());
}

void TcpTransport::schedule_reconnect(NodeId id, const Error& why) {
  last_error_[id] = why.message();
  if (!connecting_) return;
  const auto timer = loop_.add_timer(kReconnectDelay, [this, id] {
    TcpPeer* peer = find_peer(id);
    if (connecting_ && peer->state() == TcpPeer::State::kIdle) start_connect(id);
  });
  reconnect_timers_.push_back(timer);
}

void TcpTransport::peer_ready(TcpPeer& peer) {
  last_error_.erase(peer.id());
  spdlog::debug("node {}: connected to node {}", self_, peer.id());
}

void TcpTransport::peer_failed(TcpPeer& peer, const Error& why) {
  last_error_[peer.id()] = why.message();
  if (peer.state() != TcpPeer::State::kLost) {
    if (peer.id() > self_) schedule_reconnect(peer.id(), why);
    return;
  }
  const Error lost{why.code, peer.name() + ": " + why.what};
  // The handler decides whether this is an error and says so (a peer may also leave after a
  // final barrier: then a warning here would report a normal end as a lost node).
  spdlog::debug("node {}: lost {}", self_, lost.message());
  // Reported from the loop, not from inside send() or a handler callback.
  loop_.post([this, alive = alive_, id = peer.id(), lost] {
    if (*alive) handler_.on_peer_lost(id, lost);
  });
}

void TcpTransport::disconnect(NodeId id, const Error& why) {
  TcpPeer* peer = find_peer(id);
  if (peer == nullptr || peer->state() != TcpPeer::State::kReady) return;
  // The caller may be inside this peer's frame loop: stop delivery now, close from the loop.
  peer->stop_delivering();
  loop_.post([this, alive = alive_, peer, why] {
    if (*alive && peer->state() == TcpPeer::State::kReady) peer->disconnect(why);
  });
}

bool TcpTransport::connected(NodeId id) const {
  const TcpPeer* peer = find_peer(id);
  return peer != nullptr && peer->state() == TcpPeer::State::kReady;
}

std::size_t TcpTransport::queued_bytes() const {
  std::size_t total = 0;
  for (const auto& peer : peers_) total += peer->queued_bytes();
  return total;
}

Status TcpTransport::send(NodeId to, const wire::Header& header,
                          std::span<const std::uint8_t> payload) {
  TcpPeer* peer = find_peer(to);
  if (peer == nullptr) {
    return make_error(
        "node " + std::to_string(self_) + ": send to unknown node " + std::to_string(to), EINVAL);
  }
  return peer->send(header, payload);
}

TcpPeer* TcpTransport::find_peer(NodeId id) const {
  const auto it = std::ranges::find_if(peers_, [id](const auto& p) { return p->id() == id; });
  return it == peers_.end() ? nullptr : it->get();
}

std::string TcpTransport::missing_peers() const {
  std::string out;
  for (const auto& peer : peers_) {
    if (peer->state() == TcpPeer::State::kReady) continue;
    if (!out.empty()) out += ", ";
    out += "node " + std::to_string(peer->id()) + " at " + peer->address().host + ":" +
           std::to_string(peer->address().port);
    const auto err = last_error_.find(peer->id());
    if (err != last_error_.end())
      out += " (" + err->second + ")";
    else if (peer->id() < self_)
      out += " (it has not connected to us)";
    else
      out += " (no hello reply)";
  }
  return out;
}

}  // namespace heca::coherence

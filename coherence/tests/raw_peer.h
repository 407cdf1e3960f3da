// A raw TCP connection that plays a node towards a real TcpTransport, doing the handshake of
// coherence/peer_auth.h by hand, so tests can then write whatever bytes they like.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "coherence/peer_auth.h"
#include "kernel/base/check.h"
#include "kernel/base/fd.h"

namespace heca::coherence::testing {

struct RawPeer {
  Fd fd;
  NodeId as = 0;
  Nonce nonce{};
  [[nodiscard]] int get() const { return fd.get(); }
  void reset() { fd.reset(); }
};

// Connects to 127.0.0.1:`port` and sends the hello of node `as`; a peer with no fd when
// nobody listens there yet (or the hello could not be written).
inline RawPeer try_raw_connect(std::uint16_t port, NodeId as) {
  RawPeer peer{
      .fd = Fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)}, .as = as, .nonce = fresh_nonce()};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(peer.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0) return {};
  const auto hello = encode_hello({.id = as, .nonce = peer.nonce});
  if (::write(peer.get(), hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) {
    return {};
  }
  return peer;
}

// The same where the listener is known to be up.
inline RawPeer raw_connect(std::uint16_t port, NodeId as) {
  RawPeer peer = try_raw_connect(port, as);
  HECA_CHECK(peer.fd);
  return peer;
}

// Reads exactly `bytes.size()` bytes; false when the peer closed the connection first.
inline bool raw_read_exactly(int fd, std::span<std::uint8_t> bytes) {
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads the acceptor's reply and answers with the proof `key` gives. False when the acceptor
// closed the connection instead of replying, or its reply does not prove `key`.
inline bool raw_handshake(RawPeer& peer, const ClusterKey& key = {}) {
  std::array<std::uint8_t, kHelloReplySize> reply{};
  if (!raw_read_exactly(peer.get(), reply)) return false;
  auto hello = decode_hello(std::span<const std::uint8_t, kHelloSize>(reply.data(), kHelloSize));
  if (!hello) return false;
  const Mac expected = accept_mac(key, peer.as, hello->id, peer.nonce, hello->nonce);
  const auto mac = decode_proof(
      std::span<const std::uint8_t, kProofSize>(reply.data() + kHelloSize, kProofSize), hello->id);
  if (!mac || !mac_matches(expected, *mac)) return false;
  const auto proof =
      encode_proof(peer.as, connect_mac(key, peer.as, hello->id, peer.nonce, hello->nonce));
  return ::write(peer.get(), proof.data(), proof.size()) == static_cast<ssize_t>(proof.size());
}

}  // namespace heca::coherence::testing

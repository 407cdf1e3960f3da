// Malformed I/O frames from a peer played by a raw socket: the receiving node reports an error
// naming the peer and closes (or ignores) that connection, and keeps running.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "coherence/tcp_peer.h"
#include "coherence/tests/raw_peer.h"
#include "io-aggregation/tests/io_cluster.h"
#include "kernel/base/check.h"
#include "kernel/base/fd.h"

namespace heca::io {
namespace {

using testing::Events;

// Node 1 on a loop thread: an IoServer (empty bus) or an IoForwarder whose I/O node is 0.
// Node 0 is played by the raw socket, which connects (the lower id opens connections).
struct NodeUnderTest {
  explicit NodeUnderTest(bool server_role) : node(make_loop()) {
    if (server_role) {
      IoServerConfig c{.self = 1, .peers = {0}, .on_peer_failed = {}};
      c.on_peer_failed = [this](NodeId peer, const Error& why) {
        events.add("peer " + std::to_string(peer) + " " + why.message());
      };
      node.server = std::make_unique<IoServer>(node.loop, bus, std::move(c));
      handler = node.server.get();
    } else {
      IoForwarderConfig c{.self = 1, .io_node = 0};
      c.on_link_failed = [this](const Error& why) { events.add("link " + why.message()); };
      node.forwarder = std::make_unique<IoForwarder>(node.loop, std::move(c));
      handler = node.forwarder.get();
    }
    coherence::TcpTransportConfig config{.self = 1,
                                         .peers = {{0, "127.0.0.1", 1}, {1, "127.0.0.1", 0}}};
    auto transport = coherence::TcpTransport::create(node.loop, config, *handler);
    HECA_CHECK(transport.has_value());
    node.transport = std::move(*transport);
    if (server_role) node.server->set_transport(*node.transport);
    if (!server_role) node.forwarder->set_transport(*node.transport);
    node.thread = std::thread([this] { HECA_CHECK(node.loop.run().has_value()); });
  }
  static coherence::EventLoop make_loop() {
    auto loop = coherence::EventLoop::create();
    HECA_CHECK(loop.has_value());
    return std::move(*loop);
  }

  IoBus bus;
  Events events;
  testing::TestNode node;
  coherence::TransportHandler* handler = nullptr;
};

// A raw connection playing node 0, past the handshake.
Fd connect_as_node_0(std::uint16_t port) {
  coherence::testing::RawPeer peer = coherence::testing::raw_connect(port, 0);
  HECA_CHECK(coherence::testing::raw_handshake(peer));
  const timeval timeout{.tv_sec = 5, .tv_usec = 0};
  HECA_CHECK(::setsockopt(peer.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) == 0);
  return std::move(peer.fd);
}

void send_frame(int fd, const coherence::wire::Header& header,
                std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> bytes(coherence::wire::kHeaderSize);
  coherence::wire::encode_header(
      header, std::span<std::uint8_t, coherence::wire::kHeaderSize>(bytes.data(), bytes.size()));
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  HECA_CHECK(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
}

// True when the other side closed the connection (EOF or reset) within the receive timeout.
bool closed_by_peer(int fd) {
  std::array<std::uint8_t, 64> buffer{};
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;  // timed out: still open
  }
}

coherence::wire::Header pio_write_header(std::uint32_t payload_length) {
  coherence::wire::Header h;
  h.type = static_cast<std::uint8_t>(IoMessageType::kPioWrite);
  h.page = 0x3f8;
  h.payload_length = payload_length;
  return h;
}

TEST(IoMalformed, ServerClosesConnectionOnBadAccessSizeNamingTheNode) {
  NodeUnderTest server(true);
  const Fd raw = connect_as_node_0(server.node.transport->listen_port());
  const std::array<std::uint8_t, 3> payload{1, 2, 3};

  send_frame(raw.get(), pio_write_header(3), payload);

  EXPECT_TRUE(closed_by_peer(raw.get()));
  EXPECT_TRUE(server.events.saw("peer 0 node 0 sent a malformed I/O message"));
  EXPECT_TRUE(server.events.saw("bad size"));
  EXPECT_EQ(server.node.server->stats().malformed, 1U);
}

TEST(IoMalformed, ServerRejectsUnknownTypeWithoutPayload) {
  NodeUnderTest server(true);
  const Fd raw = connect_as_node_0(server.node.transport->listen_port());
  coherence::wire::Header h;
  h.type = 0x4f;

  send_frame(raw.get(), h, {});

  EXPECT_TRUE(server.events.saw("unknown I/O message type 79"));
  EXPECT_EQ(server.node.server->stats().malformed, 1U);
}

TEST(IoMalformed, ServerClosesConnectionOnGarbageHeader) {
  NodeUnderTest server(true);
  const Fd raw = connect_as_node_0(server.node.transport->listen_port());
  const std::array<std::uint8_t, coherence::wire::kHeaderSize> garbage{0xde, 0xad};

  HECA_CHECK(::write(raw.get(), garbage.data(), garbage.size()) ==
             static_cast<ssize_t>(garbage.size()));

  EXPECT_TRUE(closed_by_peer(raw.get()));
  EXPECT_TRUE(server.events.saw("peer 0 lost the I/O link to node 0"));
}

TEST(IoMalformed, ForwarderClosesLinkOnReplyWithBadFlags) {
  NodeUnderTest forwarder(false);
  const Fd raw = connect_as_node_0(forwarder.node.transport->listen_port());
  coherence::wire::Header h;
  h.type = static_cast<std::uint8_t>(IoMessageType::kIoReply);
  h.flags = 0x8000;
  h.payload_length = 4;
  const std::array<std::uint8_t, 4> payload{};

  send_frame(raw.get(), h, payload);

  EXPECT_TRUE(closed_by_peer(raw.get()));
  EXPECT_TRUE(forwarder.events.saw("link I/O node 0 sent a malformed message: "));
  EXPECT_TRUE(forwarder.events.saw("unknown flags 32768"));
}

}  // namespace
}  // namespace heca::io

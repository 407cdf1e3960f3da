#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "coherence/tcp_peer.h"
#include "coherence/tcp_transport.h"
#include "coherence/tests/raw_peer.h"
#include "coherence/tests/transport_test_util.h"
#include "kernel/base/check.h"

namespace heca::coherence {
namespace {

using namespace std::chrono_literals;
using testing::make_header;
using testing::on_loop;
using testing::raw_connect;
using testing::raw_handshake;
using testing::RawPeer;
using testing::RecordingHandler;
using testing::wait_for;

constexpr std::uint8_t kPageType = 7;

// One in-process node: its own loop, handler, transport and loop thread.
struct TestNode {
  explicit TestNode(EventLoop l) : loop(std::move(l)) {}
  ~TestNode() {
    loop.stop();
    if (thread.joinable()) thread.join();
  }
  EventLoop loop;
  RecordingHandler handler;
  std::unique_ptr<TcpTransport> transport;
  std::thread thread;
  std::atomic<bool> connect_done{false};
  Status connect_status;
};

// Real nodes for `real_ids` out of `all_ids` (the rest are played by raw sockets), each
// listening on an ephemeral 127.0.0.1 port.
class Cluster {
 public:
  Cluster(std::vector<NodeId> all_ids, std::vector<NodeId> real_ids,
          std::chrono::milliseconds timeout = 10s, std::map<NodeId, ClusterKey> keys = {}) {
    for (const NodeId id : real_ids) {
      auto loop = EventLoop::create();
      HECA_CHECK(loop.has_value());
      auto node = std::make_unique<TestNode>(std::move(*loop));
      TcpTransportConfig config{
          .self = id, .peers = {}, .connect_timeout = timeout, .key = keys[id]};
      for (const NodeId peer : all_ids) config.peers.push_back({peer, "127.0.0.1", 0});
      auto transport = TcpTransport::create(node->loop, config, node->handler);
      HECA_CHECK(transport.has_value());
      node->transport = std::move(*transport);
      ports_[id] = node->transport->listen_port();
      nodes_[id] = std::move(node);
    }
  }
  std::uint16_t port(NodeId id) { return ports_.at(id); }
  TestNode& node(NodeId id) { return *nodes_.at(id); }
  void start() {
    for (auto& [id, node] : nodes_) {
      for (const auto& [peer, port] : ports_) {
        if (peer != id)
          HECA_CHECK(node->transport->set_peer_address({peer, "127.0.0.1", port}).has_value());
      }
      TestNode* n = node.get();
      n->thread = std::thread([n] {
        n->connect_status = n->transport->connect_all();
        n->connect_done = true;
        HECA_CHECK(n->loop.run().has_value());
      });
    }
  }
  bool all_connected() {
    return wait_for([&] {
      for (auto& [id, node] : nodes_) {
        if (!node->connect_done) return false;
      }
      return true;
    });
  }

 private:
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::map<NodeId, std::uint16_t> ports_;
};

std::vector<std::uint8_t> pattern(std::size_t size, std::uint64_t seed) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return bytes;
}

TEST(TcpTransport, ThreeNodesAllToAllKeepPerPairFifoOrder) {
  Cluster cluster({0, 1, 2}, {0, 1, 2});
  cluster.start();
  ASSERT_TRUE(cluster.all_connected());
  constexpr std::uint64_t kCount = 300;

  for (NodeId from = 0; from < 3; ++from) {
    TestNode& node = cluster.node(from);
    on_loop(node.loop, [&] {
      for (std::uint64_t seq = 0; seq < kCount; ++seq) {
        for (NodeId to = 0; to < 3; ++to) {
          if (to == from) continue;
          const auto payload = pattern(seq % 3 == 0 ? kPageSize : seq % 50, seq);
          EXPECT_TRUE(node.transport->send(to, make_header(from, 1, seq, payload.size()), payload)
                          .has_value());
        }
      }
    });
  }

  for (NodeId id = 0; id < 3; ++id) {
    TestNode& node = cluster.node(id);
    EXPECT_TRUE(node.connect_status.has_value());
    ASSERT_TRUE(wait_for([&] { return node.handler.messages().size() == 2 * kCount; }));
    std::map<NodeId, std::uint64_t> next;
    for (const auto& m : node.handler.messages()) {
      EXPECT_EQ(m.header.request_id, next[m.from]++);
      EXPECT_EQ(m.payload, pattern(m.header.payload_length, m.header.request_id));
    }
  }
}

TEST(TcpTransport, PagePayloadLandsInDestinationSpan) {
  Cluster cluster({0, 1}, {0, 1});
  std::vector<std::uint8_t> page(kPageSize);
  cluster.node(1).handler.use_destination(kPageType, page);
  cluster.start();
  ASSERT_TRUE(cluster.all_connected());
  const auto data = pattern(kPageSize, 42);

  on_loop(cluster.node(0).loop, [&] {
    EXPECT_TRUE(cluster.node(0)
                    .transport->send(1, make_header(0, kPageType, 1, kPageSize), data)
                    .has_value());
  });

  ASSERT_TRUE(wait_for([&] { return cluster.node(1).handler.messages().size() == 1; }));
  EXPECT_TRUE(cluster.node(1).handler.messages()[0].in_destination);
  EXPECT_EQ(page, data);
}

TEST(TcpTransport, LargePayloadsIntoDestinationSurvivePartialReadsAndWrites) {
  Cluster cluster({0, 1}, {0, 1});
  std::vector<std::uint8_t> buffer(wire::kMaxPayload);
  cluster.node(1).handler.use_destination(kPageType, buffer);
  cluster.start();
  ASSERT_TRUE(cluster.all_connected());
  constexpr std::uint64_t kCount = 200;

  on_loop(cluster.node(0).loop, [&] {
    for (std::uint64_t seq = 0; seq < kCount; ++seq) {
      const auto payload = pattern(wire::kMaxPayload - seq, seq);
      const auto header = make_header(0, kPageType, seq, payload.size());
      EXPECT_TRUE(cluster.node(0).transport->send(1, header, payload).has_value());
    }
  });

  ASSERT_TRUE(wait_for([&] { return cluster.node(1).handler.messages().size() == kCount; }));
  const auto messages = cluster.node(1).handler.messages();
  for (std::uint64_t seq = 0; seq < kCount; ++seq) {
    EXPECT_TRUE(messages[seq].in_destination);
    EXPECT_EQ(messages[seq].payload, pattern(wire::kMaxPayload - seq, seq));
  }
}

TEST(TcpTransport, MessagesSentBeforeConnectAreDeliveredAfterHello) {
  Cluster cluster({0, 1}, {0, 1});
  const std::vector<std::uint8_t> payload{1, 2, 3};
  ASSERT_TRUE(cluster.node(1).transport->send(0, make_header(1, 1, 77, 3), payload).has_value());

  cluster.start();

  ASSERT_TRUE(cluster.all_connected());
  ASSERT_TRUE(wait_for([&] { return cluster.node(0).handler.messages().size() == 1; }));
  EXPECT_EQ(cluster.node(0).handler.messages()[0].header.request_id, 77u);
  EXPECT_EQ(cluster.node(0).handler.messages()[0].payload, payload);
}

TEST(TcpTransport, GarbageFrameClosesOnlyThatConnection) {
  Cluster cluster({0, 1, 2}, {1, 2});
  cluster.start();
  RawPeer to_1 = raw_connect(cluster.port(1), 0);
  RawPeer to_2 = raw_connect(cluster.port(2), 0);
  ASSERT_TRUE(raw_handshake(to_1));
  ASSERT_TRUE(raw_handshake(to_2));
  ASSERT_TRUE(cluster.all_connected());
  const std::array<std::uint8_t, wire::kHeaderSize> garbage{0xde, 0xad, 0xbe, 0xef};

  ASSERT_EQ(::write(to_1.get(), garbage.data(), garbage.size()),
            static_cast<ssize_t>(garbage.size()));

  ASSERT_TRUE(wait_for([&] { return cluster.node(1).handler.lost().size() == 1; }));
  const auto lost = cluster.node(1).handler.lost()[0];
  EXPECT_EQ(lost.first, 0);
  EXPECT_NE(lost.second.find("malformed frame header"), std::string::npos) << lost.second;
  on_loop(cluster.node(1).loop, [&] {
    EXPECT_TRUE(cluster.node(1).transport->send(2, make_header(1, 1, 5, 0), {}).has_value());
  });
  ASSERT_TRUE(wait_for([&] { return cluster.node(2).handler.messages().size() == 1; }));
  EXPECT_TRUE(
      on_loop(cluster.node(2).loop, [&] { return cluster.node(2).transport->connected(0); }));
  EXPECT_TRUE(cluster.node(2).handler.lost().empty());
}

TEST(TcpTransport, DisconnectClosesBothEndsAndReportsTheReasonOnce) {
  Cluster cluster({0, 1}, {0, 1});
  cluster.start();
  ASSERT_TRUE(cluster.all_connected());
  TestNode& sender = cluster.node(0);
  TestNode& receiver = cluster.node(1);
  on_loop(sender.loop, [&] {
    for (std::uint64_t seq = 0; seq < 3; ++seq) {
      EXPECT_TRUE(sender.transport->send(1, make_header(0, 1, seq, 0), {}).has_value());
    }
  });
  ASSERT_TRUE(wait_for([&] { return !receiver.handler.messages().empty(); }));

  on_loop(receiver.loop, [&] { receiver.transport->disconnect(0, Error{EPROTO, "bad message"}); });

  ASSERT_TRUE(wait_for([&] { return receiver.handler.lost().size() == 1; }));
  EXPECT_NE(receiver.handler.lost()[0].second.find("bad message"), std::string::npos);
  ASSERT_TRUE(wait_for([&] { return sender.handler.lost().size() == 1; }));
  EXPECT_FALSE(receiver.transport->connected(0));
}

TEST(TcpTransport, PeerEofInsideFrameIsReportedOnce) {
  Cluster cluster({0, 1}, {1});
  cluster.start();
  RawPeer raw = raw_connect(cluster.port(1), 0);
  ASSERT_TRUE(raw_handshake(raw));
  ASSERT_TRUE(cluster.all_connected());
  std::array<std::uint8_t, wire::kHeaderSize> header{};
  wire::encode_header(make_header(0, 1, 1, 100), header);

  ASSERT_EQ(::write(raw.get(), header.data(), header.size()), static_cast<ssize_t>(header.size()));
  raw.reset();

  ASSERT_TRUE(wait_for([&] { return cluster.node(1).handler.lost().size() == 1; }));
  const auto send_after = on_loop(cluster.node(1).loop, [&] {
    return cluster.node(1).transport->send(0, make_header(1, 1, 1, 0), {});
  });
  on_loop(cluster.node(1).loop, [] {});  // one more loop turn for any duplicate report
  EXPECT_EQ(cluster.node(1).handler.lost().size(), 1u);
  EXPECT_NE(cluster.node(1).handler.lost()[0].second.find("EOF"), std::string::npos);
  EXPECT_FALSE(send_after.has_value());
}

TEST(TcpTransport, HelloFromUnknownNodeIsRejected) {
  Cluster cluster({0, 1}, {1});
  cluster.start();

  RawPeer stranger = raw_connect(cluster.port(1), 9);

  EXPECT_FALSE(raw_handshake(stranger));
  RawPeer real = raw_connect(cluster.port(1), 0);
  EXPECT_TRUE(raw_handshake(real));
}

TEST(TcpTransport, DuplicateConnectionIsRejected) {
  Cluster cluster({0, 1}, {1});
  cluster.start();
  RawPeer first = raw_connect(cluster.port(1), 0);
  ASSERT_TRUE(raw_handshake(first));

  RawPeer second = raw_connect(cluster.port(1), 0);

  EXPECT_FALSE(raw_handshake(second));
  EXPECT_TRUE(cluster.node(1).handler.lost().empty());
}

ClusterKey key_of(std::uint8_t fill) {
  ClusterKey key;
  key.bytes.fill(fill);
  return key;
}

// Reads until the peer closes the connection (true) or 5 s pass (false).
bool closed_by_peer(int fd) {
  const timeval timeout{.tv_sec = 5, .tv_usec = 0};
  HECA_CHECK(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) == 0);
  std::array<std::uint8_t, 256> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;
  }
}

void write_frame(int fd, const wire::Header& header) {
  std::array<std::uint8_t, wire::kHeaderSize> bytes{};
  wire::encode_header(header, bytes);
  HECA_CHECK(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
}

TEST(TcpTransportAuth, AConnectionWithoutTheKeyGetsNothingAndTheClusterRunsOn) {
  const ClusterKey key = key_of(0x5a);
  Cluster cluster({0, 1}, {1}, 10s, {{1, key}});
  cluster.start();
  RawPeer impostor = raw_connect(cluster.port(1), 0);

  // Its reply does not prove a key the impostor could check; it answers with a wrong proof
  // and sends a frame anyway.
  EXPECT_FALSE(raw_handshake(impostor, key_of(0x33)));
  std::array<std::uint8_t, kMacSize> guess{};
  (void)::write(impostor.get(), guess.data(), guess.size());
  write_frame(impostor.get(), make_header(0, 1, 1, 0));

  EXPECT_TRUE(closed_by_peer(impostor.get()));
  EXPECT_TRUE(on_loop(cluster.node(1).loop,
                      [&] { return cluster.node(1).transport->rejected_connections(); }) >= 1);
  EXPECT_TRUE(cluster.node(1).handler.messages().empty());
  EXPECT_TRUE(cluster.node(1).handler.lost().empty());
  RawPeer real = raw_connect(cluster.port(1), 0);
  ASSERT_TRUE(raw_handshake(real, key));
  write_frame(real.get(), make_header(0, 1, 42, 0));
  ASSERT_TRUE(wait_for([&] { return cluster.node(1).handler.messages().size() == 1; }));
  EXPECT_EQ(cluster.node(1).handler.messages()[0].header.request_id, 42u);
}

TEST(TcpTransportAuth, AReplayedProofIsRefused) {
  const ClusterKey key = key_of(0x5a);
  Cluster cluster({0, 1}, {1}, 10s, {{1, key}});
  cluster.start();
  // A handshake an eavesdropper saw: its hello and a valid proof for that session.
  RawPeer seen = raw_connect(cluster.port(1), 0);
  std::array<std::uint8_t, kHelloReplySize> reply{};
  ASSERT_TRUE(testing::raw_read_exactly(seen.get(), reply));
  const auto acceptor = decode_hello(std::span<const std::uint8_t, kHelloSize>(reply.data(), kHelloSize));
  ASSERT_TRUE(acceptor.has_value());
  const Mac captured = connect_mac(key, 0, 1, seen.nonce, acceptor->nonce);
  seen.reset();

  RawPeer replay = raw_connect(cluster.port(1), 0);
  replay.nonce = seen.nonce;  // (the hello on the wire differs only in its nonce; same result)
  ASSERT_TRUE(testing::raw_read_exactly(replay.get(), reply));
  const auto proof = encode_proof(0, captured);
  ASSERT_EQ(::write(replay.get(), proof.data(), proof.size()), static_cast<ssize_t>(proof.size()));
  write_frame(replay.get(), make_header(0, 1, 7, 0));

  EXPECT_TRUE(closed_by_peer(replay.get()));
  EXPECT_TRUE(cluster.node(1).handler.messages().empty());
  EXPECT_TRUE(on_loop(cluster.node(1).loop,
                      [&] { return cluster.node(1).transport->connected(0); }) == false);
}

TEST(TcpTransportAuth, NodesWithDifferentKeysNeverConnectAndSayWhy) {
  Cluster cluster({0, 1}, {0, 1}, 500ms, {{0, key_of(1)}, {1, key_of(2)}});

  cluster.start();

  ASSERT_TRUE(wait_for([&] { return cluster.node(0).connect_done && cluster.node(1).connect_done; }));
  EXPECT_FALSE(cluster.node(0).connect_status.has_value());
  EXPECT_FALSE(cluster.node(1).connect_status.has_value());
  // Node 0 connects (lower ids connect to higher ones): it finds node 1's reply unproven.
  EXPECT_NE(cluster.node(0).connect_status.error().what.find("failed authentication"),
            std::string::npos)
      << cluster.node(0).connect_status.error().what;
  EXPECT_GE(on_loop(cluster.node(1).loop,
                    [&] { return cluster.node(1).transport->rejected_connections(); }),
            1u);
  EXPECT_TRUE(cluster.node(0).handler.messages().empty());
  EXPECT_TRUE(cluster.node(1).handler.messages().empty());
}

TEST(TcpTransport, ConnectAllTimesOutNamingMissingPeer) {
  Cluster cluster({0, 1, 2}, {0, 1}, 300ms);
  Fd unused{::socket(AF_INET, SOCK_STREAM, 0)};  // node 2's port: bound, never listening
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(unused.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(::getsockname(unused.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
  for (const NodeId id : {NodeId{0}, NodeId{1}}) {
    ASSERT_TRUE(cluster.node(id)
                    .transport->set_peer_address({2, "127.0.0.1", ntohs(sa.sin_port)})
                    .has_value());
  }

  cluster.start();

  ASSERT_TRUE(cluster.all_connected());
  const Status status = cluster.node(0).connect_status;
  ASSERT_FALSE(status.has_value());
  EXPECT_NE(status.error().what.find("missing node 2 at 127.0.0.1"), std::string::npos)
      << status.error().what;
  EXPECT_EQ(status.error().what.find("node 1 at"), std::string::npos) << status.error().what;
}

}  // namespace
}  // namespace heca::coherence

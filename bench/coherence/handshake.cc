// bench_handshake: what peer authentication costs a node's start-up. Prints the crypto of one
// handshake (two nonces, two HMACs made and two checked) and the wall time of connect_all for
// two TcpTransports on loopback (hello, reply with proof, proof), p50 and p90 over rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "coherence/event_loop.h"
#include "coherence/peer_auth.h"
#include "coherence/tcp_transport.h"
#include "kernel/base/check.h"

namespace heca::coherence {
namespace {

using Clock = std::chrono::steady_clock;
using Micros = std::chrono::duration<double, std::micro>;

struct Silent final : TransportHandler {
  std::span<std::uint8_t> payload_destination(NodeId, const wire::Header&) override { return {}; }
  void on_message(NodeId, const wire::Header&, std::span<const std::uint8_t>) override {}
  void on_peer_lost(NodeId, const Error&) override {}
};

double crypto_us_per_handshake(int rounds) {
  ClusterKey key;
  key.bytes.fill(0x42);
  int matched = 0;
  const auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    const Nonce c = fresh_nonce();
    const Nonce a = fresh_nonce();
    const Mac accept = accept_mac(key, 0, 1, c, a);
    const Mac connect = connect_mac(key, 0, 1, c, a);
    matched += mac_matches(accept_mac(key, 0, 1, c, a), accept) ? 1 : 0;
    matched += mac_matches(connect_mac(key, 0, 1, c, a), connect) ? 1 : 0;
  }
  const double us = Micros(Clock::now() - start).count() / rounds;
  HECA_CHECK(matched == 2 * rounds);
  return us;
}

// One round: two nodes on loopback, each connect_all() on its own thread; microseconds until
// both return.
double connect_us() {
  ClusterKey key;
  key.bytes.fill(0x42);
  auto loop0 = EventLoop::create();
  auto loop1 = EventLoop::create();
  HECA_CHECK(loop0.has_value() && loop1.has_value());
  Silent h0;
  Silent h1;
  const std::vector<PeerAddress> any = {{0, "127.0.0.1", 0}, {1, "127.0.0.1", 0}};
  auto t0 = TcpTransport::create(*loop0, {.self = 0, .peers = any, .key = key}, h0);
  auto t1 = TcpTransport::create(*loop1, {.self = 1, .peers = any, .key = key}, h1);
  HECA_CHECK(t0.has_value() && t1.has_value());
  HECA_CHECK((*t0)->set_peer_address({1, "127.0.0.1", (*t1)->listen_port()}).has_value());
  HECA_CHECK((*t1)->set_peer_address({0, "127.0.0.1", (*t0)->listen_port()}).has_value());
  const auto start = Clock::now();
  std::thread b([&] { HECA_CHECK((*t1)->connect_all().has_value()); });
  HECA_CHECK((*t0)->connect_all().has_value());
  b.join();
  return Micros(Clock::now() - start).count();
}

double percentile(std::vector<double> values, double p) {
  std::ranges::sort(values);
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

}  // namespace
}  // namespace heca::coherence

int main() {
  using namespace heca::coherence;
  constexpr int kCryptoRounds = 20000;
  constexpr int kConnectRounds = 200;
  const double crypto = crypto_us_per_handshake(kCryptoRounds);
  std::vector<double> connects;
  for (int i = 0; i < kConnectRounds; ++i) connects.push_back(connect_us());
  std::printf("handshake crypto (2 nonces, 2 HMACs made, 2 checked): %.1f us per connection\n",
              crypto);
  std::printf("connect_all of 2 nodes on loopback (hello, reply + proof, proof), %d rounds: "
              "p50 %.0f us, p90 %.0f us\n",
              kConnectRounds, percentile(connects, 0.5), percentile(connects, 0.9));
  std::printf("crypto share of a connection's start-up (p50): %.1f %%\n",
              100.0 * crypto / percentile(connects, 0.5));
  return 0;
}

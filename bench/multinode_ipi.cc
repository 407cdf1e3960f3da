// IPI round trip (vCPU 0 -> k -> 0, the test guest's ipi=N phase) with 5 vCPUs on one node
// (in-kernel delivery) and with vCPU 0 alone on node 0 of three (every target remote), set
// against the round trip of the frame a forwarded interrupt travels in over a TcpTransport.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.h"
#include "bench/coherence/two_nodes.h"
#include "coherence/event_loop.h"
#include "coherence/tcp_transport.h"
#include "vmm/node/node_links.h"

namespace {

using heca::bench::find_number;
using Clock = std::chrono::steady_clock;

constexpr int kVcpus = 5;
constexpr int kTcpRoundTrips = 2000;
// Short counter and memcpy phases after the IPI phase; APs on slow hosts (a virtual cluster)
// may take longer than the default 30 s to check in.
const std::string kPhases = " iters=200 mbw_kib=64 mbw_reps=1 checkin_s=120";

// vCPU 0 alone on node 0, so every ping crosses nodes.
std::string three_node_description(const std::string& cmdline) {
  const auto path = std::filesystem::temp_directory_path() / "heca-bench-multinode-ipi.toml";
  std::ofstream out(path);
  out << "[guest]\nmemory = \"256M\"\nkind = \"test\"\ncmdline = \"" << cmdline << "\"\n"
      << "[transport]\nbase_port = 7890\n"
      << "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\nvcpus = [0]\n"
      << "[[node]]\nid = 1\nroles = [\"compute\", \"memory\"]\nvcpus = [1, 2]\n"
      << "[[node]]\nid = 2\nroles = [\"compute\", \"memory\"]\nvcpus = [3, 4]\n";
  return path.string();
}

struct Percentiles {
  double p50_us = 0;
  double p99_us = 0;
};

std::optional<Percentiles> ipi_figures(const heca::testing::ProcessResult& result) {
  const std::string text = heca::bench::unprefixed(result.out);
  auto p50 = find_number(text, "ipi all rtt_us", " p50=");
  auto p99 = find_number(text, "ipi all rtt_us", " p99=");
  if (!p50 || !p99) return std::nullopt;
  return Percentiles{*p50, *p99};
}

// One end of the TCP ping-pong. Node 1 answers every frame; node 0 times each round trip and
// sends the next. Runs on its transport's loop thread.
class PingPong final : public heca::coherence::TransportHandler {
 public:
  PingPong(heca::coherence::EventLoop& loop, heca::coherence::EventLoop& other, bool pinger)
      : loop_(loop), other_(other), pinger_(pinger) {}
  void attach(heca::coherence::TcpTransport* transport) { transport_ = transport; }

  void send_ping() {
    sent_at_ = Clock::now();
    send(1);
  }
  [[nodiscard]] const std::vector<double>& samples_us() const { return samples_us_; }
  [[nodiscard]] bool failed() const { return failed_; }

  std::span<std::uint8_t> payload_destination(
      heca::coherence::NodeId /*from*/, const heca::coherence::wire::Header& /*header*/) override {
    return {};
  }
  void on_message(heca::coherence::NodeId from, const heca::coherence::wire::Header& /*header*/,
                  std::span<const std::uint8_t> /*payload*/) override {
    if (!pinger_) return send(from);
    const std::chrono::duration<double, std::micro> rtt = Clock::now() - sent_at_;
    samples_us_.push_back(rtt.count());
    if (samples_us_.size() < kTcpRoundTrips) return send_ping();
    loop_.stop();
    other_.stop();
  }
  void on_peer_lost(heca::coherence::NodeId /*peer*/, const heca::Error& why) override {
    if (samples_us_.size() >= kTcpRoundTrips) return;
    std::fprintf(stderr, "tcp ping-pong: %s\n", why.message().c_str());
    failed_ = true;
    loop_.stop();
    other_.stop();
  }

 private:
  // The frame of one forwarded fixed IPI: header only (vector 0x40 to APIC id 1).
  void send(heca::coherence::NodeId to) {
    const heca::coherence::wire::Header header{
        .type = heca::vmm::node::kForwardedInterruptType,
        .flags = 0,
        .payload_length = 0,
        .sender = static_cast<std::uint16_t>(transport_->self()),
        .page = 1,
        .request_id = 0x40};
    if (auto s = transport_->send(to, header, {}); !s) on_peer_lost(to, s.error());
  }

  heca::coherence::EventLoop& loop_;
  heca::coherence::EventLoop& other_;
  bool pinger_;
  heca::coherence::TcpTransport* transport_ = nullptr;
  Clock::time_point sent_at_;
  std::vector<double> samples_us_;
  bool failed_ = false;
};

heca::coherence::TcpTransportConfig loopback_pair(heca::coherence::NodeId self) {
  return {.self = self, .peers = {{0, "127.0.0.1", 0}, {1, "127.0.0.1", 0}}};
}

// Two TcpTransports, each on its own loop thread (as each node's links), over loopback.
std::optional<Percentiles> tcp_round_trip() {
  auto loop0 = heca::coherence::EventLoop::create();
  auto loop1 = heca::coherence::EventLoop::create();
  if (!loop0 || !loop1) return std::nullopt;
  PingPong pinger(*loop0, *loop1, true);
  PingPong ponger(*loop1, *loop0, false);
  auto t0 = heca::coherence::TcpTransport::create(*loop0, loopback_pair(0), pinger);
  auto t1 = heca::coherence::TcpTransport::create(*loop1, loopback_pair(1), ponger);
  if (!t0 || !t1) return std::nullopt;
  pinger.attach(t0->get());
  ponger.attach(t1->get());
  if (!(*t0)->set_peer_address({1, "127.0.0.1", (*t1)->listen_port()}) ||
      !(*t1)->set_peer_address({0, "127.0.0.1", (*t0)->listen_port()})) {
    return std::nullopt;
  }
  bool ok0 = false;
  bool ok1 = false;
  std::thread side1([&] { ok1 = (*t1)->connect_all() && loop1->run(); });
  ok0 = static_cast<bool>((*t0)->connect_all());
  if (ok0) {
    pinger.send_ping();
    ok0 = static_cast<bool>(loop0->run());
  } else {
    loop1->stop();
  }
  side1.join();
  if (!ok0 || !ok1 || pinger.failed() || pinger.samples_us().empty()) return std::nullopt;
  return Percentiles{heca::bench::percentile(pinger.samples_us(), 0.50),
                     heca::bench::percentile(pinger.samples_us(), 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::stoi(argv[1]) : 200;
  const std::string cmdline = "ipi=" + std::to_string(rounds) + kPhases;
  auto tcp = tcp_round_trip();
  if (!tcp) {
    std::fprintf(stderr, "tcp ping-pong failed\n");
    return 1;
  }
  std::printf("TCP round trip (TcpTransport, loopback, %d frames): p50 %.1f us  p99 %.1f us\n",
              kTcpRoundTrips, tcp->p50_us, tcp->p99_us);
  std::fflush(stdout);
  auto one = heca::bench::run_test_guest(
      {"--vcpus", std::to_string(kVcpus), "--memory", "256M", "--cmdline", cmdline});
  auto three = heca::bench::run_cluster(three_node_description(cmdline));
  if (!one || !three) return 1;
  auto local = ipi_figures(*one);
  auto remote = ipi_figures(*three);
  if (!local || !remote) {
    std::fprintf(stderr, "could not find the guest's \"ipi all\" line\n");
    return 1;
  }
  std::printf("IPI round trip vCPU 0 -> k -> 0, %d vCPUs, %d pings per target\n", kVcpus, rounds);
  std::printf("  1 node  (in-kernel)  : p50 %8.1f us  p99 %8.1f us\n", local->p50_us,
              local->p99_us);
  std::printf("  3 nodes (all remote) : p50 %8.1f us  p99 %8.1f us\n", remote->p50_us,
              remote->p99_us);
  std::printf(
      "  ratio cross-node IPI / TCP round trip (p50): x%.1f; cross-node / local (p50): x%.1f\n",
      remote->p50_us / tcp->p50_us, remote->p50_us / local->p50_us);
  return 0;
}

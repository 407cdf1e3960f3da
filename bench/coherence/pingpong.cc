// bench_pingpong: one page written alternately by a thread on each of 2 nodes; every write
// needs the page back from the other node. Prints transfers per second.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/coherence/two_nodes.h"

namespace heca::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDuration = std::chrono::seconds(2);

// Thread of node `turn`: waits for its turn (counter % 2 == turn), then increments.
void player(std::uint8_t* base, std::uint64_t turn, std::atomic<bool>& stop, std::uint64_t& moves) {
  std::atomic_ref<std::uint64_t> counter(*reinterpret_cast<std::uint64_t*>(base));
  while (!stop.load(std::memory_order_relaxed)) {
    const std::uint64_t value = counter.load(std::memory_order_acquire);
    if (value % 2 != turn) {
      std::this_thread::yield();  // 2 cores: leave room for the event loops
      continue;
    }
    counter.store(value + 1, std::memory_order_release);
    ++moves;
  }
}

double run(std::chrono::microseconds hold) {
  TwoNodes nodes =
      start_two_nodes(1 << 20, [&](coherence::ClusterConfig& config) { config.min_hold = hold; });
  std::atomic<bool> stop{false};
  std::uint64_t moves[2] = {0, 0};
  const auto start = Clock::now();
  std::thread a([&] { player(nodes.home->data(), 0, stop, moves[0]); });
  std::thread b([&] { player(nodes.remote->data(), 1, stop, moves[1]); });
  std::this_thread::sleep_for(kDuration);
  stop = true;
  a.join();
  b.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto stats = nodes.remote->stats().protocol;
  stop_two_nodes(nodes);
  const double rate = static_cast<double>(moves[0] + moves[1]) / seconds;
  std::printf(
      "hold %4lld us: %9.0f page transfers/s (node0 %llu, node1 %llu moves; node1 "
      "grants %llu)\n",
      static_cast<long long>(hold.count()), rate, static_cast<unsigned long long>(moves[0]),
      static_cast<unsigned long long>(moves[1]),
      static_cast<unsigned long long>(stats.grants_received));
  return rate;
}

}  // namespace
}  // namespace heca::bench

int main() {
  using namespace std::chrono_literals;
  for (const auto hold : {0us, 10us, 20us, 30us, 50us}) heca::bench::run(hold);
  return 0;
}

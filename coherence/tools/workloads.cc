#include "coherence/tools/workloads.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace heca::coherence::tools {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic_ref<std::uint64_t> word(ClusterMemory& memory, PageIndex page, std::size_t offset) {
  return std::atomic_ref<std::uint64_t>(
      *reinterpret_cast<std::uint64_t*>(memory.data() + page * kPageSize + offset));
}

std::uint64_t page_count(const ClusterMemory& memory) {
  return memory.size() / kPageSize;
}
std::uint16_t node_count(const ClusterMemory& memory) {
  return memory.homes().node_count();
}

PageIndex first_page_of(const ClusterMemory& memory, NodeId node) {
  for (PageIndex page = 0; page < page_count(memory); ++page) {
    if (memory.homes().home_of(page) == node) return page;
  }
  return 0;
}

// Runs `body(thread_index, keep_going)` on `threads` threads; keep_going(i) says whether
// operation i should run (iteration count, or the deadline).
template <class Body>
void run_threads(const WorkloadOptions& options, Body body) {
  const auto deadline = Clock::now() + options.duration.value_or(std::chrono::milliseconds(0));
  auto keep_going = [&](std::uint64_t i) {
    if (!options.duration) return i < options.iterations;
    return (i % 64 != 0) || Clock::now() < deadline;
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < options.threads; ++t) {
    threads.emplace_back([&, t] { body(t, keep_going); });
  }
  for (auto& thread : threads) thread.join();
}

// Shared by the threads of one workload: counters and the first problem seen.
struct Tally {
  std::atomic<std::uint64_t> ops{0};
  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> violations{0};
  std::mutex mutex;
  std::string first_problem;

  void problem(const std::string& what) {
    if (violations.fetch_add(1) != 0) return;
    const std::lock_guard lock(mutex);
    first_problem = what;
  }
};

// random: kSpreadPages pages spread over the region (so over every home), 8 locations each,
// 512 bytes apart; location l is written by node l % N, thread (l / N) % T only.
constexpr std::uint64_t kSpreadPages = 64;
constexpr std::uint64_t kLocationsPerPage = 8;
constexpr std::uint64_t kSeqBits = 48;
constexpr std::uint64_t kSeqMask = (std::uint64_t{1} << kSeqBits) - 1;

struct Locations {
  std::uint64_t pages = 0;
  std::uint64_t count = 0;
  std::uint64_t region_pages = 0;

  [[nodiscard]] PageIndex page(std::uint64_t l) const {
    return (l / kLocationsPerPage) * region_pages / pages;
  }
  [[nodiscard]] std::size_t offset(std::uint64_t l) const {
    return static_cast<std::size_t>((l % kLocationsPerPage) * 512);
  }
};

std::uint64_t tagged(NodeId node, std::uint64_t seq) {
  return ((std::uint64_t{node} + 1) << kSeqBits) | seq;
}

void random_thread(ClusterMemory& memory, const Locations& locs, unsigned t, unsigned threads,
                   auto keep_going, Tally& tally, std::vector<std::uint64_t>& my_seq) {
  const NodeId self = memory.self();
  const std::uint16_t nodes = node_count(memory);
  std::mt19937_64 rng(std::uint64_t{self} * 1000 + t);
  std::vector<std::uint64_t> last_seen(locs.count, 0);
  for (std::uint64_t i = 0; keep_going(i); ++i) {
    const std::uint64_t l = rng() % locs.count;
    auto location = word(memory, locs.page(l), locs.offset(l));
    const bool mine = l % nodes == self && (l / nodes) % threads == t;
    if (mine && rng() % 2 == 0) {
      location.store(tagged(self, ++my_seq[l]), std::memory_order_relaxed);
      tally.writes.fetch_add(1, std::memory_order_relaxed);
    } else {
      const std::uint64_t value = location.load(std::memory_order_relaxed);
      const std::uint64_t seq = value & kSeqMask;
      if (value != 0 && (value >> kSeqBits) != (l % nodes) + 1) {
        tally.problem(
            fmt::format("location {} holds {:#x}, not a value of node {}", l, value, l % nodes));
      } else if (seq < last_seen[l]) {
        tally.problem(fmt::format("location {} went back from seq {} to {}", l, last_seen[l], seq));
      }
      last_seen[l] = std::max(last_seen[l], seq);
    }
    tally.ops.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

Result<Verdict> run_random(ClusterMemory& memory, const WorkloadOptions& options) {
  const Locations locs{.pages = std::min(kSpreadPages, page_count(memory)),
                       .count = std::min(kSpreadPages, page_count(memory)) * kLocationsPerPage,
                       .region_pages = page_count(memory)};
  Tally tally;
  std::vector<std::vector<std::uint64_t>> seqs(options.threads,
                                               std::vector<std::uint64_t>(locs.count, 0));
  run_threads(options, [&](unsigned t, auto keep_going) {
    random_thread(memory, locs, t, options.threads, keep_going, tally, seqs[t]);
  });
  if (auto status = memory.barrier(); !status) return std::unexpected(status.error());
  std::uint64_t mismatches = 0;
  for (std::uint64_t l = 0; l < locs.count; ++l) {
    if (l % node_count(memory) != memory.self()) continue;
    const std::uint64_t seq = seqs[(l / node_count(memory)) % options.threads][l];
    const std::uint64_t expected = seq == 0 ? 0 : tagged(memory.self(), seq);
    const std::uint64_t actual = word(memory, locs.page(l), locs.offset(l)).load();
    if (actual != expected) {
      ++mismatches;
      tally.problem(fmt::format("final value of location {} is {:#x}, last write {:#x}", l, actual,
                                expected));
    }
  }
  const bool pass = tally.violations == 0 && mismatches == 0;
  return Verdict{pass, fmt::format("random: ops={} writes={} violations={} final-mismatches={}{}",
                                   tally.ops.load(), tally.writes.load(), tally.violations.load(),
                                   mismatches, pass ? "" : " first: " + tally.first_problem)};
}

Result<Verdict> run_xadd(ClusterMemory& memory, const WorkloadOptions& options) {
  const std::uint16_t nodes = node_count(memory);
  const PageIndex counter_page = first_page_of(memory, static_cast<NodeId>(nodes - 1));
  const PageIndex slots_page = first_page_of(memory, 0) + 1;
  auto counter = word(memory, counter_page, 128);
  std::atomic<std::uint64_t> mine{0};
  run_threads(options, [&](unsigned, auto keep_going) {
    std::uint64_t done = 0;
    for (std::uint64_t i = 0; keep_going(i); ++i, ++done) {
      counter.fetch_add(1, std::memory_order_seq_cst);  // LOCK XADD
    }
    mine += done;
  });
  word(memory, slots_page, std::size_t{memory.self()} * 8).store(mine.load());
  if (auto status = memory.barrier(); !status) return std::unexpected(status.error());
  std::uint64_t expected = 0;
  for (NodeId node = 0; node < nodes; ++node) {
    expected += word(memory, slots_page, std::size_t{node} * 8).load();
  }
  const std::uint64_t total = counter.load();
  return Verdict{total == expected, fmt::format("xadd: this node added {}, counter={} expected={}",
                                                mine.load(), total, expected)};
}

// One reader (node 1's first thread) paces the writer: the writer starts iteration i+1 only
// after that reader has seen flag i, so every iteration really crosses the network.
Result<Verdict> run_mp(ClusterMemory& memory, const WorkloadOptions& options) {
  const std::uint16_t nodes = node_count(memory);
  auto data = word(memory, first_page_of(memory, static_cast<NodeId>(1 % nodes)) + 2, 0);
  auto flag = word(memory, first_page_of(memory, static_cast<NodeId>(2 % nodes)) + 3, 64);
  auto seen = word(memory, first_page_of(memory, 0) + 4, 0);
  const std::uint64_t iterations = options.iterations;
  const bool paced = nodes > 1 || options.threads > 1;
  const NodeId pacer_node = nodes > 1 ? 1 : 0;
  const unsigned pacer_thread = nodes > 1 ? 0 : 1;
  Tally tally;
  WorkloadOptions each = options;
  each.duration.reset();
  each.iterations = 1;
  run_threads(each, [&](unsigned t, auto) {
    if (memory.self() == 0 && t == 0) {
      for (std::uint64_t i = 1; i <= iterations; ++i) {
        data.store(i, std::memory_order_release);
        flag.store(i, std::memory_order_release);
        // Polls yield: on a small machine a spinning thread would starve the event loops.
        while (paced && seen.load(std::memory_order_acquire) < i) std::this_thread::yield();
      }
      return;
    }
    const bool pacer = memory.self() == pacer_node && t == pacer_thread;
    std::uint64_t last_flag = 0;
    while (last_flag < iterations) {
      const std::uint64_t f = flag.load(std::memory_order_acquire);
      const std::uint64_t d = data.load(std::memory_order_acquire);
      if (d < f) tally.problem(fmt::format("saw flag {} but data {}", f, d));
      if (f != last_flag) {
        tally.ops.fetch_add(1, std::memory_order_relaxed);
        if (pacer) seen.store(f, std::memory_order_release);
      }
      last_flag = f;
      std::this_thread::yield();
    }
  });
  return Verdict{tally.violations == 0,
                 fmt::format("mp: iterations={} flag-changes-observed={} forbidden={}{}",
                             iterations, tally.ops.load(), tally.violations.load(),
                             tally.violations == 0 ? "" : " first: " + tally.first_problem)};
}

Result<Verdict> run_scan(ClusterMemory& memory, const WorkloadOptions& options) {
  std::vector<PageIndex> remote;
  for (PageIndex page = 0; page < page_count(memory); ++page) {
    if (memory.homes().home_of(page) != memory.self()) remote.push_back(page);
  }
  std::atomic<std::uint64_t> checksum{0};
  const auto start = Clock::now();
  WorkloadOptions each = options;
  each.duration.reset();
  each.iterations = 1;
  run_threads(each, [&](unsigned t, auto) {
    std::uint64_t sum = 0;
    const std::size_t begin = remote.size() * t / options.threads;
    const std::size_t end = remote.size() * (t + 1) / options.threads;
    for (std::size_t i = begin; i < end; ++i) {
      const auto* words =
          reinterpret_cast<const std::uint64_t*>(memory.data() + remote[i] * kPageSize);
      for (std::size_t w = 0; w < kPageSize / 8; ++w) sum += words[w];
    }
    checksum += sum;
  });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double mb = static_cast<double>(remote.size() * kPageSize) / 1e6;
  return Verdict{true, fmt::format("scan: {} remote pages in {:.3f} s = {:.1f} MB/s (sum {})",
                                   remote.size(), seconds, mb / seconds, checksum.load())};
}

}  // namespace heca::coherence::tools

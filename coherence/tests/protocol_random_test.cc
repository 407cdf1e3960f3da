// Randomised multi-node runs: random faults, random delivery order across pairs (FIFO per
// pair), random time steps. Checks SWMR after every step, that every read returns the last
// write, and that every fault is eventually resolved.
#include <gtest/gtest.h>

#include <chrono>

#include "coherence/tests/sim_cluster.h"

namespace heca::coherence::testing {
namespace {

using namespace std::chrono_literals;

struct Want {
  bool read = false;
  bool write = false;
};

class RandomRun {
 public:
  RandomRun(std::uint16_t nodes, std::uint64_t pages, std::uint64_t seed,
            std::uint32_t prefetch = 0, bool home_starts_owner = false)
      : sim_(SimConfig{.nodes = nodes,
                       .pages = pages,
                       .min_hold = 3us,
                       .prefetch_window = prefetch,
                       .homes = HomeMap::interleave(pages, nodes, prefetch == 0 ? 1 : 2),
                       .home_starts_owner = home_starts_owner}),
        rng_(seed),
        wants_(nodes, std::vector<Want>(pages)),
        last_write_(pages, 0) {}

  void run(int steps) {
    for (int step = 0; step < steps; ++step) {
      const auto dice = rng_() % 10;
      if (dice < 3) {
        random_fault();
      } else if (dice < 9) {
        sim_.deliver_random(rng_);
      } else {
        sim_.advance(Nanos(static_cast<std::int64_t>(rng_() % 4000)));
      }
      check_and_resolve();
      if (::testing::Test::HasFailure()) return;
    }
  }

  // No new faults: everything in flight must complete and every wanted access be granted.
  void drain() {
    for (int i = 0; i < 100000 && (sim_.in_flight() > 0 || sim_.timers_pending()); ++i) {
      if (!sim_.deliver_random(rng_)) sim_.advance(1us);
      check_and_resolve();
    }
    for (NodeId node = 0; node < sim_.size(); ++node) {
      EXPECT_TRUE(sim_.node(node).quiescent()) << "node " << node;
      for (PageIndex page = 0; page < sim_.pages(); ++page) {
        EXPECT_FALSE(wants_[node][page].read || wants_[node][page].write)
            << "node " << node << " page " << page << " never resolved";
      }
    }
  }

  [[nodiscard]] std::uint64_t accesses() const { return accesses_; }

 private:
  void random_fault() {
    const auto node = static_cast<NodeId>(rng_() % sim_.size());
    const PageIndex page = rng_() % sim_.pages();
    const Access access = rng_() % 2 == 0 ? Access::kRead : Access::kWrite;
    (access == Access::kRead ? wants_[node][page].read : wants_[node][page].write) = true;
    sim_.fault(node, page, access);
  }

  // A woken thread performs its access at once; reads must see the last write anywhere.
  void check_and_resolve() {
    for (PageIndex page = 0; page < sim_.pages(); ++page) {
      ASSERT_TRUE(sim_.swmr(page));
      for (NodeId node = 0; node < sim_.size(); ++node) {
        Want& want = wants_[node][page];
        const PageState state = sim_.mapped(node, page);
        ASSERT_EQ(state, sim_.node(node).local_state(page));
        if (state != PageState::kInvalid && (want.read || want.write)) {
          ASSERT_EQ(sim_.memory(node, page), last_write_[page])
              << "node " << node << " read a stale page " << page;
          want.read = false;
          ++accesses_;
        }
        if (state == PageState::kModified && want.write) {
          last_write_[page] = ++version_;
          sim_.memory(node, page) = version_;
          want.write = false;
        }
      }
    }
  }

  SimCluster sim_;
  std::mt19937_64 rng_;
  std::vector<std::vector<Want>> wants_;
  std::vector<std::uint64_t> last_write_;
  std::uint64_t version_ = 0;
  std::uint64_t accesses_ = 0;
};

TEST(ProtocolRandom, FourNodesKeepSwmrAndResolveEveryFault) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    RandomRun run(4, 5, seed);

    run.run(20000);
    run.drain();

    ASSERT_FALSE(HasFailure()) << "seed " << seed;
    EXPECT_GT(run.accesses(), 1000U);
  }
}

TEST(ProtocolRandom, ThreeNodesOnOnePageKeepSwmrAndResolveEveryFault) {
  for (std::uint64_t seed = 100; seed < 110; ++seed) {
    RandomRun run(3, 1, seed);

    run.run(20000);
    run.drain();

    ASSERT_FALSE(HasFailure()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace heca::coherence::testing

namespace heca::coherence::testing {
namespace {

TEST(ProtocolRandom, FourNodesWithPrefetchKeepSwmrAndResolveEveryFault) {
  for (std::uint64_t seed = 200; seed < 210; ++seed) {
    RandomRun run(4, 8, seed, 2);

    run.run(20000);
    run.drain();

    ASSERT_FALSE(HasFailure()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace heca::coherence::testing

namespace heca::coherence::testing {
namespace {

// Homes that start as the owners of their pages (mapped writable, no fault for their own
// first touch) keep the same guarantees.
TEST(ProtocolRandom, HomesStartingAsOwnersKeepSwmrAndResolveEveryFault) {
  for (std::uint64_t seed = 300; seed < 310; ++seed) {
    RandomRun run(4, 6, seed, 0, true);

    run.run(20000);
    run.drain();

    ASSERT_FALSE(HasFailure()) << "seed " << seed;
    EXPECT_GT(run.accesses(), 1000U);
  }
}

TEST(ProtocolHomeOwner, ARemoteWriteTakesThePageFromItsHomeWithItsData) {
  SimCluster sim(SimConfig{.nodes = 2, .pages = 2, .home_starts_owner = true});
  ASSERT_EQ(sim.mapped(0, 0), PageState::kModified);  // page 0 is homed on node 0
  ASSERT_EQ(sim.node(0).directory(0).owner, NodeId{0});
  sim.memory(0, 0) = 42;  // written by node 0 without any fault

  sim.fault(1, 0, Access::kWrite);
  ASSERT_TRUE(sim.settle());

  EXPECT_EQ(sim.mapped(0, 0), PageState::kInvalid);
  EXPECT_EQ(sim.mapped(1, 0), PageState::kModified);
  EXPECT_EQ(sim.memory(1, 0), 42U);
  EXPECT_EQ(sim.node(0).directory(0).owner, NodeId{1});
}

}  // namespace
}  // namespace heca::coherence::testing

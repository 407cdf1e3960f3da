// Multi-process coherence tests: 3-4 heca-dsm processes share one region over TCP, on
// loopback, under fault injection, and in separate network namespaces.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cluster/dsm_process.h"

namespace heca::tests {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kRunDeadline = 120s;

// Where node i runs: loopback with ephemeral ports, or namespace i at its own address.
struct Placement {
  std::vector<std::string> hosts;
  std::vector<std::uint16_t> ports;
  std::shared_ptr<ReservedPorts> reservation;  // loopback: held until the nodes are done
  std::vector<std::vector<std::string>> prefixes;

  [[nodiscard]] std::string peers() const {
    std::string list;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      list += fmt::format("{}{}:{}", i == 0 ? "" : ",", hosts[i], ports[i]);
    }
    return list;
  }
};

Placement loopback(std::size_t nodes) {
  Placement placement;
  placement.reservation = std::make_shared<ReservedPorts>(ReservedPorts::consecutive(nodes));
  placement.ports = placement.reservation->ports();
  placement.hosts.assign(nodes, "127.0.0.1");
  placement.prefixes.resize(nodes);
  return placement;
}

std::vector<ChildProcess> start_nodes(const Placement& placement,
                                      const std::vector<std::string>& workload_args) {
  const std::string dir = make_temp_dir();
  std::vector<ChildProcess> nodes;
  for (std::size_t i = 0; i < placement.hosts.size(); ++i) {
    std::vector<std::string> argv = placement.prefixes[i];
    argv.insert(argv.end(), {HECA_DSM_PATH, "--id", std::to_string(i), "--peers", placement.peers(),
                             "--size", "16M"});
    argv.insert(argv.end(), workload_args.begin(), workload_args.end());
    nodes.emplace_back(argv, fmt::format("{}/node{}.out", dir, i));
  }
  return nodes;
}

// Runs the workload on every node; each must exit 0 and print PASS.
void expect_all_pass(const Placement& placement, const std::vector<std::string>& args) {
  auto nodes = start_nodes(placement, args);
  const auto deadline = Clock::now() + kRunDeadline;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto status = nodes[i].wait_until(deadline);
    EXPECT_EQ(status, 0) << "node " << i << " output:\n" << nodes[i].output();
    EXPECT_NE(nodes[i].output().find("PASS"), std::string::npos) << nodes[i].output();
  }
}

const std::vector<std::string> kRandom = {"--workload", "random",    "--threads",
                                          "2",          "--seconds", "3"};
const std::vector<std::string> kXadd = {"--workload", "xadd", "--threads", "2", "--seconds", "2"};
const std::vector<std::string> kMp = {"--workload", "mp",           "--threads",
                                      "2",          "--iterations", "10000"};

std::vector<std::string> with(std::vector<std::string> args, std::vector<std::string> more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

const std::vector<std::string> kFaultInjection = {"--fault-injection-us", "100"};

// Starts a 60 s random workload on every node and returns once all have joined and run a
// little, so that a failure injected next lands mid-run, not at start-up.
std::vector<ChildProcess> start_long_run(const Placement& placement) {
  auto nodes =
      start_nodes(placement, {"--workload", "random", "--threads", "1", "--seconds", "60"});
  const bool joined = poll_until(Clock::now() + 30s, [&] {
    for (auto& node : nodes) {
      if (node.output().find("joined") == std::string::npos) return false;
    }
    return true;
  });
  EXPECT_TRUE(joined) << "not every node joined within 30 s";
  ::usleep(300'000);
  return nodes;
}

// Every node but the last (the one that failed) exits non-zero by `deadline`, and one of
// them names it. The first survivor to notice exits too, so another survivor may see that
// exit first and name the first survivor instead of the node that failed.
void expect_survivors_name_the_lost_node(std::vector<ChildProcess>& nodes,
                                         const Placement& placement, Clock::time_point deadline) {
  const std::size_t lost = nodes.size() - 1;
  const std::string name =
      fmt::format("lost node {} ({}:{})", lost, placement.hosts[lost], placement.ports[lost]);
  std::string survivors_output;
  for (std::size_t i = 0; i < lost; ++i) {
    const auto status = nodes[i].wait_until(deadline);
    ASSERT_TRUE(status.has_value()) << "node " << i << " still running at the deadline";
    EXPECT_NE(*status, 0);
    survivors_output += nodes[i].output();
  }
  EXPECT_NE(survivors_output.find(name), std::string::npos) << survivors_output;
}

TEST(DsmCluster, RandomReadsAndWritesStayCoherentAcrossFourNodes) {
  expect_all_pass(loopback(4), kRandom);
}

TEST(DsmCluster, LockXaddCounterFromEveryNodeIsExact) {
  expect_all_pass(loopback(4), kXadd);
}

TEST(DsmCluster, MessagePassingNeverShowsTheForbiddenOutcome) {
  expect_all_pass(loopback(3), kMp);
}

// Homes start as the owners of their pages, mapped writable (how heca nodes run guests).
const std::vector<std::string> kHomeOwner = {"--home-owner"};

TEST(DsmClusterHomeOwner, RandomReadsAndWritesStayCoherentAcrossFourNodes) {
  expect_all_pass(loopback(4), with(kRandom, kHomeOwner));
}

TEST(DsmClusterHomeOwner, LockXaddCounterFromEveryNodeIsExact) {
  expect_all_pass(loopback(3), with(kXadd, kHomeOwner));
}

TEST(DsmClusterHomeOwner, MessagePassingNeverShowsTheForbiddenOutcome) {
  expect_all_pass(loopback(3), with(kMp, kHomeOwner));
}

TEST(DsmCluster, KilledNodeIsNamedAndTheOthersExitNonZeroWithinTenSeconds) {
  const Placement placement = loopback(3);
  auto nodes = start_long_run(placement);

  nodes[2].kill_now();

  expect_survivors_name_the_lost_node(nodes, placement, Clock::now() + 10s);
}

TEST(DsmClusterFaultInjection, RandomReadsAndWritesStayCoherent) {
  expect_all_pass(loopback(4), with(kRandom, kFaultInjection));
}

TEST(DsmClusterFaultInjection, LockXaddCounterIsExact) {
  expect_all_pass(loopback(4), with(kXadd, kFaultInjection));
}

TEST(DsmClusterFaultInjection, MessagePassingNeverShowsTheForbiddenOutcome) {
  expect_all_pass(loopback(3), with(kMp, kFaultInjection));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Nodes in separate network namespaces joined by a bridge (scripts/netns-cluster).
class DsmClusterNetns : public ::testing::Test {
 protected:
  static constexpr std::size_t kNodes = 3;

  static void SetUpTestSuite() {
    prefix_ = fmt::format("hd{}", ::getpid() % 100000);
    const std::string up =
        fmt::format("{} up {} {} >/tmp/{}.log 2>&1", script(), kNodes, prefix_, prefix_);
    available_ = std::system(up.c_str()) == 0;
    if (!available_) why_ = read_text(fmt::format("/tmp/{}.log", prefix_));
  }
  static void TearDownTestSuite() {
    if (!prefix_.empty()) {
      (void)std::system(fmt::format("{} down {} {}", script(), kNodes, prefix_).c_str());
    }
  }
  void SetUp() override {
    if (!available_) GTEST_SKIP() << "network namespaces cannot be created here: " << why_;
  }
  static std::string script() { return std::string(HECA_SOURCE_DIR) + "/scripts/netns-cluster"; }

  static Placement placement() {
    Placement placement;
    for (std::size_t i = 0; i < kNodes; ++i) {
      placement.hosts.push_back(fmt::format("10.77.0.{}", i + 1));
      placement.ports.push_back(7400);
      placement.prefixes.push_back({script(), "exec", std::to_string(i), prefix_});
    }
    return placement;
  }

  static inline std::string prefix_;
  static inline bool available_ = false;
  static inline std::string why_;
};

TEST_F(DsmClusterNetns, RandomReadsAndWritesStayCoherent) {
  expect_all_pass(placement(), kRandom);
}

TEST_F(DsmClusterNetns, LockXaddCounterIsExact) {
  expect_all_pass(placement(), kXadd);
}

TEST_F(DsmClusterNetns, MessagePassingNeverShowsTheForbiddenOutcome) {
  expect_all_pass(placement(), kMp);
}

// The last node's link goes down without any socket being closed: only keepalive and the
// TCP user timeout can notice.
TEST_F(DsmClusterNetns, BrokenLinkIsNamedAndTheOthersExitNonZeroWithinTenSeconds) {
  const Placement nodes_at = placement();
  auto nodes = start_long_run(nodes_at);

  const std::string cut = fmt::format("ip -n {}-br link set v{} down", prefix_, kNodes - 1);
  ASSERT_EQ(std::system(cut.c_str()), 0) << cut;

  expect_survivors_name_the_lost_node(nodes, nodes_at, Clock::now() + 10s);
}

}  // namespace
}  // namespace heca::tests

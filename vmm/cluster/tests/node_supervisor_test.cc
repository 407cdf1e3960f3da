#include "vmm/cluster/node_supervisor.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <thread>

namespace heca::vmm::cluster {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

constexpr auto kLossDeadline = 10s;

NodeProcess shell_node(std::uint32_t id, std::string script) {
  return NodeProcess{.node_id = id,
                     .address = fmt::format("10.0.0.{}", id + 1),
                     .argv = {"/bin/sh", "-c", std::move(script)},
                     .netns = {}};
}

// Collects forwarded lines as "N:text" (stderr lines as "N!text").
struct CapturedLines {
  std::mutex mutex;
  std::vector<std::string> lines;

  LineSink sink() {
    return [this](std::uint32_t node, OutputStream stream, std::string_view line) {
      const std::lock_guard lock(mutex);
      lines.push_back(fmt::format("{}{}{}", node, stream == OutputStream::kStdout ? ':' : '!', line));
    };
  }
};

SupervisorOptions quick_options(CapturedLines& captured) {
  return SupervisorOptions{.result_node = 0,
                           .prefix_output = true,
                           .grace = 500ms,
                           .handle_signals = true,
                           .sink = captured.sink()};
}

struct Timed {
  ClusterOutcome outcome;
  std::chrono::steady_clock::duration elapsed;
};

Timed run(std::vector<NodeProcess> nodes, SupervisorOptions options) {
  const auto start = std::chrono::steady_clock::now();
  auto supervisor = NodeSupervisor::start(std::move(nodes), std::move(options));
  EXPECT_TRUE(supervisor.has_value()) << supervisor.error().message();
  if (!supervisor) return {};
  ClusterOutcome outcome = supervisor->wait();
  return {std::move(outcome), std::chrono::steady_clock::now() - start};
}

const NodeExit& exit_of(const ClusterOutcome& outcome, std::uint32_t node) {
  const auto it = std::ranges::find(outcome.exits, node, &NodeExit::node_id);
  EXPECT_NE(it, outcome.exits.end());
  return *it;
}

TEST(NodeSupervisor, AllNodesSucceedingGivesZeroAndForwardsTheirLines) {
  CapturedLines captured;

  const Timed r = run({shell_node(0, "echo zero"), shell_node(1, "echo one; echo oops >&2"),
                       shell_node(2, "printf 'no newline'")},
                      quick_options(captured));

  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_EQ(r.outcome.lost, "");
  EXPECT_THAT(captured.lines, UnorderedElementsAre("0:zero", "1:one", "1!oops", "2:no newline"));
}

TEST(NodeSupervisor, FailingNodeIsNamedAndTheOthersAreStopped) {
  CapturedLines captured;

  const Timed r = run({shell_node(0, "exec sleep 60"), shell_node(1, "exit 3"),
                       shell_node(2, "exec sleep 60")},
                      quick_options(captured));

  EXPECT_EQ(r.outcome.exit_code, kNodeLostExitCode);
  EXPECT_EQ(r.outcome.lost, "node 1 (10.0.0.2) lost: exited with code 3");
  EXPECT_LT(r.elapsed, kLossDeadline);
  EXPECT_TRUE(exit_of(r.outcome, 0).stopped_by_supervisor);
  EXPECT_EQ(exit_of(r.outcome, 2).status.describe(), "killed by signal 15 (TERM)");
}

TEST(NodeSupervisor, AGuestStopCodeFromAnyNodeIsTheResultNotALostNode) {
  CapturedLines captured;
  SupervisorOptions options = quick_options(captured);
  options.guest_stop_codes = {123};

  const Timed r = run({shell_node(0, "sleep 0.2; exit 123"), shell_node(1, "exit 123"),
                       shell_node(2, "sleep 0.2; exit 0")},
                      options);

  EXPECT_EQ(r.outcome.exit_code, 123);
  EXPECT_EQ(r.outcome.lost, "");
  EXPECT_FALSE(exit_of(r.outcome, 0).stopped_by_supervisor);
}

TEST(NodeSupervisor, NodeKilledBySigkillIsNamed) {
  CapturedLines captured;

  const Timed r = run({shell_node(0, "exec sleep 60"), shell_node(1, "kill -9 $$")},
                      quick_options(captured));

  EXPECT_NE(r.outcome.exit_code, 0);
  EXPECT_EQ(r.outcome.lost, "node 1 (10.0.0.2) lost: killed by signal 9 (KILL)");
  EXPECT_LT(r.elapsed, kLossDeadline);
}

TEST(NodeSupervisor, NodeIgnoringSigtermIsKilledAfterTheGracePeriod) {
  CapturedLines captured;

  const std::string ready = fmt::format("/tmp/heca-supervisor-test-{}.ready", ::getpid());
  ::unlink(ready.c_str());

  // Node 1 fails only once node 0 ignores SIGTERM (it polls for the marker file).
  const Timed r = run({shell_node(0, fmt::format("trap '' TERM; touch {}; while :; do sleep 1; done",
                                                 ready)),
                       shell_node(1, fmt::format("while [ ! -e {} ]; do sleep 0.01; done; exit 1",
                                                 ready))},
                      quick_options(captured));
  ::unlink(ready.c_str());

  EXPECT_EQ(r.outcome.lost, "node 1 (10.0.0.2) lost: exited with code 1");
  EXPECT_EQ(exit_of(r.outcome, 0).status.describe(), "killed by signal 9 (KILL)");
  EXPECT_LT(r.elapsed, kLossDeadline);
}

TEST(NodeSupervisor, ResultNodeExitCodeIsTheClusterExitCode) {
  CapturedLines captured;

  const Timed r = run({shell_node(0, "exit 7"), shell_node(1, "exit 0")}, quick_options(captured));

  EXPECT_EQ(r.outcome.exit_code, 7);
  EXPECT_EQ(r.outcome.lost, "");
}

TEST(NodeSupervisor, NodesLeftRunningAfterTheResultNodeEndsAreStopped) {
  CapturedLines captured;
  SupervisorOptions options = quick_options(captured);
  options.result_node = 1;

  const Timed r = run({shell_node(0, "exec sleep 60"), shell_node(1, "exit 0")}, options);

  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_EQ(r.outcome.lost, "");
  EXPECT_TRUE(exit_of(r.outcome, 0).stopped_by_supervisor);
  EXPECT_LT(r.elapsed, kLossDeadline);
}

TEST(NodeSupervisor, SigtermToTheSupervisorStopsEveryNode) {
  CapturedLines captured;
  auto supervisor = NodeSupervisor::start({shell_node(0, "exec sleep 60"),
                                           shell_node(1, "exec sleep 60")},
                                          quick_options(captured));
  ASSERT_TRUE(supervisor.has_value()) << supervisor.error().message();

  ::kill(::getpid(), SIGTERM);
  const ClusterOutcome outcome = supervisor->wait();

  EXPECT_EQ(outcome.exit_code, 128 + SIGTERM);
  EXPECT_TRUE(exit_of(outcome, 0).stopped_by_supervisor);
  EXPECT_TRUE(exit_of(outcome, 1).stopped_by_supervisor);
}

TEST(NodeSupervisor, RequestStopFromAnotherThreadStopsEveryNode) {
  CapturedLines captured;
  auto supervisor = NodeSupervisor::start({shell_node(0, "exec sleep 60")}, quick_options(captured));
  ASSERT_TRUE(supervisor.has_value()) << supervisor.error().message();

  std::thread stopper([&] { supervisor->request_stop(); });
  const ClusterOutcome outcome = supervisor->wait();
  stopper.join();

  EXPECT_EQ(outcome.exit_code, 128 + SIGTERM);
}

TEST(NodeSupervisor, UnknownProgramFailsAtStartNamingTheNode) {
  CapturedLines captured;

  auto supervisor = NodeSupervisor::start(
      {NodeProcess{.node_id = 0, .address = "", .argv = {"/nonexistent/heca"}, .netns = {}}},
      quick_options(captured));

  ASSERT_FALSE(supervisor.has_value());
  EXPECT_THAT(supervisor.error().message(), HasSubstr("starting node 0: starting /nonexistent/heca"));
}

TEST(NodeSupervisor, DroppingTheSupervisorKillsItsNodes) {
  CapturedLines captured;
  std::vector<pid_t> pids;
  {
    auto supervisor = NodeSupervisor::start({shell_node(0, "exec sleep 60")}, quick_options(captured));
    ASSERT_TRUE(supervisor.has_value()) << supervisor.error().message();
    pids = supervisor->pids();
  }

  EXPECT_EQ(::kill(pids.at(0), 0), -1);
}

}  // namespace
}  // namespace heca::vmm::cluster

// One guest over three `heca node` processes (network namespaces when possible, else loopback)
// through the real `heca run GUEST.toml`: exact totals, one console, and a killed node is named.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/klog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kernel/base/fd.h"
#include "tests/cluster_vm/guest_output.h"
#include "tests/support/loopback_ports.h"
#include "tests/support/subprocess.h"
#include "vmm/cluster/child_process.h"
#include "vmm/exit_codes.h"

namespace heca::testing {
namespace {

using namespace std::chrono_literals;

class MultiNodeGuest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  }
};

TEST_F(MultiNodeGuest, ThreeNodesGiveExactTotalsAndOneConsole) {
  constexpr int kIters = 2000;
  constexpr int kExpected = kIters * 5;
  const auto ports = ReservedPorts::for_cluster(3);
  const auto config =
      write_description("heca-multinode-totals", ports.base(), "iters=" + std::to_string(kIters));

  auto result = run_process(HECA_BINARY, {"run", config, "--timeout", "120", "--stats"}, 180s);

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 0) << result->out << result->err;
  const std::string xadd =
      "[node 0] xadd total=" + std::to_string(kExpected) + " expected=" + std::to_string(kExpected);
  const std::string spin = "[node 0] spinlock total=" + std::to_string(kExpected) +
                           " expected=" + std::to_string(kExpected);
  EXPECT_EQ(count_lines(result->out, xadd), 1u) << result->out;
  EXPECT_EQ(count_lines(result->out, spin), 1u) << result->out;
  EXPECT_EQ(count_containing(result->out, "result: PASS"), 1u) << result->out;
  EXPECT_EQ(count_containing(result->out, "[node 1] "), 0u) << "console only on the I/O node";
  EXPECT_EQ(count_containing(result->out, "[node 2] "), 0u) << "console only on the I/O node";
  EXPECT_EQ(count_containing(result->out, "checked in"), 5u) << result->out;
  // Per-node stats: the BSP's node forwarded INIT and SIPI to the three remote APs.
  EXPECT_EQ(count_containing(result->err, "heca: fault latency: "), 3u) << result->err;
  // The APs of other nodes start through the ACPI wakeup mailbox: no INIT or SIPI crosses nodes.
  EXPECT_EQ(count_containing(result->err,
                             "[node 0] heca: ipis forwarded: fixed=0/0 nmi=0/0 "
                             "init=0/0 sipi=0/0"),
            1u)
      << result->err;
  // One host: node 0's TSC is this host's, so no node applies an offset.
  EXPECT_EQ(count_containing(result->err, "heca: tsc: every vCPU at host TSC +0 "), 3u);
}

// Four vCPUs on three nodes (0 and 3 on node 0, 1 on node 1, 2 on node 2): a litmus test's
// threads 0, 1 and 2 run in three different processes.
std::string write_litmus_description(int base_port) {
  const auto path = std::filesystem::temp_directory_path() / "heca-multinode-litmus.toml";
  std::ofstream out(path);
  out << "[guest]\nmemory = \"256M\"\nkind = \"test\"\n[transport]\nbase_port = " << base_port
      << "\n"
      << "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\nvcpus = [0, 3]\n"
      << "[[node]]\nid = 1\nroles = [\"compute\", \"memory\"]\nvcpus = [1]\n"
      << "[[node]]\nid = 2\nroles = [\"compute\", \"memory\"]\nvcpus = [2]\n";
  return path.string();
}

TEST_F(MultiNodeGuest, LitmusSuiteAcrossNodesShowsNoForbiddenOutcome) {
  const auto ports = ReservedPorts::for_cluster(3);
  const auto config = write_litmus_description(ports.base());
  std::vector<std::filesystem::path> tests;
  for (const auto& e : std::filesystem::directory_iterator(HECA_LITMUS_SUITE_DIR)) {
    if (e.path().extension() == ".litmus") tests.push_back(e.path());
  }
  ASSERT_GE(tests.size(), 12u);
  for (const auto& test : tests) {
    auto result = run_process(
        HECA_BINARY,
        {"run", config, "--litmus", test.string(), "--iterations", "200", "--timeout", "100"},
        150s);

    ASSERT_TRUE(result.has_value()) << result.error().message();
    EXPECT_EQ(result->exit_code, 0) << test << "\n" << result->out << result->err;
    EXPECT_EQ(count_containing(result->out, "every observed outcome is allowed"), 1u)
        << test << "\n"
        << result->out;
  }
}

// One vCPU on each of `nodes` nodes, node 0 with the I/O role.
std::string write_one_vcpu_per_node(const std::string& name, int base_port, int nodes) {
  const auto path = std::filesystem::temp_directory_path() / (name + ".toml");
  std::ofstream out(path);
  out << "[guest]\nmemory = \"256M\"\nkind = \"test\"\n[transport]\nbase_port = " << base_port
      << "\n";
  for (int id = 0; id < nodes; ++id) {
    out << "[[node]]\nid = " << id << "\nroles = [\"compute\", \"memory\""
        << (id == 0 ? ", \"io\"" : "") << "]\nvcpus = [" << id << "]\n";
  }
  return path.string();
}

// herdtools7's 2+2W+mfence+po-mfence (public x86 collection): a location only read (z), and the
// write-write cycle that x86-TSO forbids. It crashed the guest when its threads ran on two nodes
// (a proxy vCPU started by the test guest's INIT-SIPI ran the AP trampoline on the wrong node).
std::string write_two_plus_two_w() {
  const auto path = std::filesystem::temp_directory_path() / "2+2W+mfence+po-mfence.litmus";
  std::ofstream(path) << "X86_64 2+2W+mfence+po-mfence\n"
                         "{\nuint64_t z; uint64_t y; uint64_t x;\n}\n"
                         " P0          | P1            ;\n"
                         " movq $2,(x) | movq $2,(y)   ;\n"
                         " mfence      | movq (z),%rax ;\n"
                         " movq $1,(y) | mfence        ;\n"
                         "             | movq $1,(x)   ;\n"
                         "exists (x=2 /\\ y=2)\n";
  return path.string();
}

TEST_F(MultiNodeGuest, PublicTwoPlusTwoWRunsWithEachThreadOnItsOwnNode) {
  const auto ports = ReservedPorts::for_cluster(4);
  const auto config = write_one_vcpu_per_node("heca-multinode-2p2w", ports.base(), 4);

  auto result = run_process(HECA_BINARY,
                            {"run", config, "--litmus", write_two_plus_two_w(), "--iterations",
                             "500", "--timeout", "300"},
                            400s);

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 0) << result->out << result->err;
  EXPECT_EQ(count_containing(result->out,
                             "litmus 2+2W+mfence+po-mfence: thread 0 on vCPU 0 "
                             "(node 0), thread 1 on vCPU 1 (node 1)"),
            1u)
      << result->out;
  EXPECT_EQ(count_containing(result->out, "every observed outcome is allowed by x86-TSO"), 1u)
      << result->out << result->err;
  EXPECT_EQ(count_containing(result->err, "triple fault"), 0u) << result->err;
}

TEST_F(MultiNodeGuest, ATripleFaultOnAComputeNodeStopsEveryNodeWithOneCode) {
  const auto ports = ReservedPorts::for_cluster(3);
  const auto config = write_description("heca-multinode-crash", ports.base(),
                                        "fault=triple_fault checkin_s=120");
  const auto start = std::chrono::steady_clock::now();

  auto result = run_process(HECA_BINARY, {"run", config, "--timeout", "200"}, 250s);
  const auto took = std::chrono::steady_clock::now() - start;

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 123) << result->out << result->err;
  EXPECT_EQ(count_containing(result->err,
                             "[node 2] heca: guest crashed on node 2: vCPU 4: guest "
                             "shut down (triple fault)"),
            1u)
      << result->err;
  EXPECT_EQ(count_containing(result->err, "heca: stopped: the guest stopped on node 2"), 2u)
      << result->err;
  EXPECT_EQ(count_containing(result->err, "lost"), 0u) << result->err;
  // Without the stop broadcast the BSP waits checkin_s (120 s here) for vCPU 4, then fails
  // with 3.
  EXPECT_LT(took, 60s) << result->err;
}

TEST(MultiNodeCli, NodeIdOutsideTheDescriptionIsAnInputError) {
  const auto ports = ReservedPorts::for_cluster(3);
  const auto config = write_description("heca-multinode-badid", ports.base(), "");

  auto result = run_process(HECA_BINARY, {"node", "--config", config, "--id", "3"}, 30s);

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_NE(result->err.find("--id 3: the guest description has nodes 0..2"), std::string::npos)
      << result->err;
}

// The pid of `heca node ... --id ID` among the children of `parent`, or -1.
pid_t find_node(pid_t parent, int id) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state;
    pid_t ppid = 0;
    if (!(stat >> pid >> comm >> state >> ppid) || ppid != parent) continue;
    std::ifstream cmd(entry.path() / "cmdline");
    const std::string args((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    const std::string want = std::string("--id") + '\0' + std::to_string(id) + '\0';
    if (args.find(want) != std::string::npos) return std::stoi(pid);
  }
  return -1;
}

std::string drain(Fd& fd) {
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) return text;
    text.append(buf, static_cast<std::size_t>(n));
  }
}

TEST_F(MultiNodeGuest, KilledNodeStopsTheClusterAsFastAsItStartedNamingIt) {
  const auto ports = ReservedPorts::for_cluster(3);
  const auto config = write_description("heca-multinode-kill", ports.base(), "iters=100000000");
  const auto spawned_at = std::chrono::steady_clock::now();
  auto child =
      vmm::cluster::ChildProcess::spawn({.argv = {HECA_BINARY, "run", config}, .netns = {}});
  ASSERT_TRUE(child.has_value()) << child.error().message();
  std::string out;
  const auto start_deadline = std::chrono::steady_clock::now() + 60s;
  while (count_containing(out, "checked in") < 5 &&
         std::chrono::steady_clock::now() < start_deadline) {
    std::this_thread::sleep_for(50ms);
    out += drain(child->stdout_pipe());
  }
  ASSERT_EQ(count_containing(out, "checked in"), 5u) << out;
  // The stop is held to this host's own pace: 10 s, or longer where the cluster took longer
  // than that to start (a nested TCG host); measured: 0.2 s to stop on a real host.
  const auto started_in = std::chrono::steady_clock::now() - spawned_at;
  const auto stop_bound = std::max<std::chrono::steady_clock::duration>(10s, started_in);
  const pid_t victim = find_node(child->pid(), 2);
  ASSERT_GT(victim, 0);

  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  const auto killed_at = std::chrono::steady_clock::now();
  pollfd pfd{.fd = child->pidfd().get(), .events = POLLIN, .revents = 0};
  const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(stop_bound + 5s);
  const int ready = ::poll(&pfd, 1, static_cast<int>(wait_ms.count()));
  const auto took = std::chrono::steady_clock::now() - killed_at;

  ASSERT_EQ(ready, 1) << "heca run did not end";
  EXPECT_LT(took, stop_bound) << "the cluster started in "
                              << std::chrono::duration<double>(started_in).count() << " s";
  auto status = child->reap();
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->success());
  const std::string err = drain(child->stderr_pipe());
  EXPECT_NE(err.find("node 2 ("), std::string::npos) << err;
  EXPECT_NE(err.find("lost"), std::string::npos) << err;
}

// "[node N] heca: progress: node N, T s: ... F page faults (...": F of node N's newest line,
// or -1.
long long newest_progress_faults(const std::string& err, int node) {
  const std::string head = "heca: progress: node " + std::to_string(node) + ", ";
  long long faults = -1;
  for (const auto& line : split_lines(err)) {
    if (line.find(head) == std::string::npos) continue;
    const auto at = line.find(" page faults");
    if (at == std::string::npos || at == 0) continue;
    const auto from = line.rfind(' ', at - 1);
    if (from == std::string::npos) continue;
    faults = std::stoll(line.substr(from + 1, at - from - 1));
  }
  return faults;
}

TEST_F(MultiNodeGuest, ProgressLinesShowEveryNodesFaultsWhileTheGuestRuns) {
  const auto ports = ReservedPorts::for_cluster(3);
  const auto config = write_description("heca-multinode-progress", ports.base(), "iters=100000000");
  auto child = vmm::cluster::ChildProcess::spawn(
      {.argv = {HECA_BINARY, "run", config, "--progress", "0.5"}, .netns = {}});
  ASSERT_TRUE(child.has_value()) << child.error().message();
  std::string err;
  // Every node reports; a compute node that is not home of the shared counters faults on them.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline &&
         !(newest_progress_faults(err, 0) >= 0 && newest_progress_faults(err, 1) > 0 &&
           newest_progress_faults(err, 2) > 0)) {
    std::this_thread::sleep_for(100ms);
    err += drain(child->stderr_pipe());
    (void)drain(child->stdout_pipe());
  }
  ASSERT_EQ(::kill(child->pid(), SIGTERM), 0);
  auto status = child->reap();
  ASSERT_TRUE(status.has_value());
  EXPECT_GE(newest_progress_faults(err, 0), 0) << err;
  EXPECT_GT(newest_progress_faults(err, 1), 0) << err;
  EXPECT_GT(newest_progress_faults(err, 2), 0) << err;
  EXPECT_NE(err.find("guest time"), std::string::npos) << err;
}

// `heca run ARGS... --control SOCKET` in the background, asked through `heca ctl SOCKET
// COMMAND --json`; its output is drained while the test waits, so its pipes never fill.
class ControlledRun {
 public:
  ControlledRun(std::vector<std::string> args, std::string socket) : socket_(std::move(socket)) {
    std::filesystem::remove(socket_);
    std::vector<std::string> argv{HECA_BINARY, "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--control", socket_});
    auto child = vmm::cluster::ChildProcess::spawn({.argv = argv, .netns = {}});
    EXPECT_TRUE(child.has_value()) << child.error().message();
    if (child) child_.emplace(std::move(*child));
  }

  // The reply `heca ctl` printed, parsed; null when it printed none (no socket yet, say).
  nlohmann::json ctl(const std::string& command) {
    auto result = run_process(HECA_BINARY, {"ctl", socket_, command, "--json"}, 60s);
    drain_output();
    if (!result) return nullptr;
    const auto reply = nlohmann::json::parse(result->out, nullptr, false);
    return reply.is_discarded() ? nlohmann::json(nullptr) : reply;
  }

  // What `heca ctl SOCKET COMMAND` prints for people.
  std::string human(const std::string& command) {
    auto result = run_process(HECA_BINARY, {"ctl", socket_, command}, 60s);
    drain_output();
    return result ? result->out : std::string();
  }

  // The "return" value of the reply to `command`; null when there was none.
  nlohmann::json returned(const std::string& command) {
    const nlohmann::json reply = ctl(command);
    return reply.is_object() ? reply.value("return", nlohmann::json()) : nlohmann::json();
  }

  // Asks `command` until the "return" value satisfies `done` or `timeout` passes; the last one.
  template <class Done>
  nlohmann::json ctl_until(const std::string& command, Done done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json value;
    while (std::chrono::steady_clock::now() < deadline) {
      value = returned(command);
      if (!value.is_null() && done(value)) return value;
      std::this_thread::sleep_for(250ms);
    }
    return value;
  }

  // heca run's exit code, or -1 when it has not ended within `timeout`.
  int wait(std::chrono::seconds timeout) {
    if (!child_) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    pollfd pfd{.fd = child_->pidfd().get(), .events = POLLIN, .revents = 0};
    while (::poll(&pfd, 1, 200) == 0 && std::chrono::steady_clock::now() < deadline) {
      drain_output();
    }
    if (pfd.revents == 0) return -1;
    drain_output();
    auto status = child_->reap();
    return status ? status->shell_code() : -1;
  }

  [[nodiscard]] const std::string& err() const { return err_; }

 private:
  void drain_output() {
    if (!child_) return;
    out_ += drain(child_->stdout_pipe());
    err_ += drain(child_->stderr_pipe());
  }

  std::string socket_;
  std::optional<vmm::cluster::ChildProcess> child_;
  std::string out_;
  std::string err_;
};

// The node statuses in a status reply: every node's from a supervisor, else the one.
std::vector<nlohmann::json> node_statuses(const nlohmann::json& status) {
  if (!status.is_object()) return {};
  if (!status.contains("nodes")) return {status};
  std::vector<nlohmann::json> nodes;
  for (const auto& node : status["nodes"]) {
    nodes.push_back(node.value("status", nlohmann::json::object()));
  }
  return nodes;
}

std::size_t vcpu_count(const nlohmann::json& status) {
  std::size_t count = 0;
  for (const auto& node : node_statuses(status)) {
    count += node.value("vcpus", nlohmann::json::array()).size();
  }
  return count;
}

// Whether `nodes` nodes answered and every one's guest and every vCPU is in `state`.
bool everything_is(const nlohmann::json& status, std::size_t nodes, const std::string& state) {
  const auto statuses = node_statuses(status);
  if (statuses.size() != nodes) return false;
  for (const auto& node : statuses) {
    if (node.value("guest", nlohmann::json::object()).value("state", "") != state) return false;
    for (const auto& vcpu : node.value("vcpus", nlohmann::json::array())) {
      if (vcpu.value("state", "") != state) return false;
    }
  }
  return true;
}

// Page faults node `node` has taken, from a supervisor's stats; -1 when it has no figure yet.
long long page_faults(const nlohmann::json& stats, std::size_t node) {
  const auto nodes = stats.value("nodes", nlohmann::json::array());
  if (nodes.size() <= node) return -1;
  const auto memory = nodes[node].value("stats", nlohmann::json::object())
                          .value("memory", nlohmann::json::object());
  return memory.value("page_faults", -1LL);
}

TEST_F(MultiNodeGuest, ControlSocketShowsPausesResumesAndStopsTheGuest) {
  const std::string socket =
      (std::filesystem::temp_directory_path() / "heca-multinode-control.sock").string();
  const auto ports = ReservedPorts::for_cluster(3);
  ControlledRun run({write_description("heca-multinode-control", ports.base(), "iters=100000000")},
                    socket);
  const auto running = [](const nlohmann::json& s) { return everything_is(s, 3, "running"); };
  const auto paused = [](const nlohmann::json& s) { return everything_is(s, 3, "paused"); };
  // Compute nodes that are not home of the shared counters fault on them while the guest runs.
  const auto compute_nodes_faulted = [](const nlohmann::json& s) {
    return page_faults(s, 1) > 0 && page_faults(s, 2) > 0;
  };

  const nlohmann::json status_running = run.ctl_until("status", running, 180s);
  const nlohmann::json stats_running = run.ctl_until("stats", compute_nodes_faulted, 60s);
  const std::string table = run.human("status");
  const std::string stats_text = run.human("stats");
  const nlohmann::json pause_reply = run.ctl("pause");
  const nlohmann::json status_paused = run.ctl_until("status", paused, 60s);
  const nlohmann::json stats_paused_before = run.returned("stats");
  std::this_thread::sleep_for(2s);
  const nlohmann::json stats_paused_after = run.returned("stats");
  const nlohmann::json resume_reply = run.ctl("resume");
  const nlohmann::json status_resumed = run.ctl_until("status", running, 60s);
  const nlohmann::json stop_reply = run.ctl("stop");
  const int exit_code = run.wait(120s);

  EXPECT_EQ(vcpu_count(status_running), 5u) << status_running;
  EXPECT_TRUE(running(status_running)) << status_running;
  EXPECT_TRUE(compute_nodes_faulted(stats_running)) << stats_running;
  // For people: a row per vCPU (guest and vCPU running), a block of counters per node.
  EXPECT_EQ(count_containing(table, "running  "), 5u) << table;
  EXPECT_EQ(count_containing(stats_text, "== node "), 3u) << stats_text;
  EXPECT_GE(count_containing(stats_text, "  page_faults "), 3u) << stats_text;
  EXPECT_EQ(pause_reply, nlohmann::json::parse(R"({"return": {}})"));
  EXPECT_TRUE(paused(status_paused)) << status_paused;
  // Held vCPUs take no page faults: node 1's count stands still while paused.
  EXPECT_EQ(page_faults(stats_paused_before, 1), page_faults(stats_paused_after, 1));
  EXPECT_GT(page_faults(stats_paused_after, 1), 0);
  EXPECT_EQ(resume_reply, nlohmann::json::parse(R"({"return": {}})"));
  EXPECT_TRUE(running(status_resumed)) << status_resumed;
  EXPECT_EQ(stop_reply, nlohmann::json::parse(R"({"return": {}})"));
  EXPECT_EQ(exit_code, vmm::kExitStoppedByControl) << run.err();
  EXPECT_EQ(count_containing(run.err(), "lost"), 0u) << run.err();
  EXPECT_FALSE(std::filesystem::exists(socket));
  EXPECT_FALSE(std::filesystem::exists(socket + ".node1"));
}

// `heca run --guest` (a guest of one node) serves the same commands on its own socket.
TEST(ControlSocketOnKvm, ASingleNodeGuestPausesResumesAndStops) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  const std::string socket =
      (std::filesystem::temp_directory_path() / "heca-machine-control.sock").string();
  ControlledRun run({"--guest", "test", "--vcpus", "2", "--cmdline", "iters=1000000000000"},
                    socket);
  const auto running = [](const nlohmann::json& s) { return everything_is(s, 1, "running"); };
  const auto paused = [](const nlohmann::json& s) { return everything_is(s, 1, "paused"); };

  const nlohmann::json status_running = run.ctl_until("status", running, 120s);
  const nlohmann::json pause_reply = run.ctl("pause");
  const nlohmann::json status_paused = run.ctl_until("status", paused, 60s);
  const nlohmann::json stats = run.returned("stats");
  const nlohmann::json resume_reply = run.ctl("resume");
  const nlohmann::json status_resumed = run.ctl_until("status", running, 60s);
  const nlohmann::json stop_reply = run.ctl("stop");
  const int exit_code = run.wait(60s);

  EXPECT_EQ(vcpu_count(status_running), 2u) << status_running;
  EXPECT_EQ(status_running.value("roles", nlohmann::json()),
            nlohmann::json::parse(R"(["compute", "memory", "io"])"));
  EXPECT_EQ(pause_reply, nlohmann::json::parse(R"({"return": {}})"));
  EXPECT_TRUE(paused(status_paused)) << status_paused;
  // Pausing kicked every vCPU out of KVM_RUN.
  EXPECT_GT(stats.at("vcpus").at(1).at("exits").at("interrupted").get<long long>(), 0) << stats;
  EXPECT_EQ(resume_reply, nlohmann::json::parse(R"({"return": {}})"));
  EXPECT_TRUE(running(status_resumed)) << status_resumed;
  EXPECT_EQ(stop_reply, nlohmann::json::parse(R"({"return": {}})"));
  EXPECT_EQ(exit_code, vmm::kExitStoppedByControl) << run.err();
  EXPECT_FALSE(std::filesystem::exists(socket));
}

// The host kernel's log (root only; empty when it cannot be read).
std::string kernel_log() {
  const int size = ::klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0);
  if (size <= 0) return {};
  std::string text(static_cast<std::size_t>(size), '\0');
  const int n = ::klogctl(3 /* SYSLOG_ACTION_READ_ALL */, text.data(), size);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

TEST_F(MultiNodeGuest, KillingANodeMidLitmusLeavesNoProcessAndNoStuckThread) {
  const auto ports = ReservedPorts::for_cluster(4);
  const auto config = write_one_vcpu_per_node("heca-multinode-kill-litmus", ports.base(), 4);
  const auto lockups_before = count_containing(kernel_log(), "soft lockup");
  auto child = vmm::cluster::ChildProcess::spawn(
      {.argv = {HECA_BINARY, "run", config, "--litmus", write_two_plus_two_w(), "--iterations",
                "1000000"},
       .netns = {}});
  ASSERT_TRUE(child.has_value()) << child.error().message();
  std::string err;
  const auto start_deadline = std::chrono::steady_clock::now() + 120s;
  while (count_containing(err, "heca: event 1 ") == 0 &&
         std::chrono::steady_clock::now() < start_deadline) {
    std::this_thread::sleep_for(50ms);
    err += drain(child->stderr_pipe());
  }
  ASSERT_EQ(count_containing(err, "heca: event 1 "), 1u) << err << drain(child->stdout_pipe());
  std::vector<pid_t> nodes;
  for (int id = 0; id < 4; ++id) nodes.push_back(find_node(child->pid(), id));
  ASSERT_EQ(std::count(nodes.begin(), nodes.end(), -1), 0);
  std::this_thread::sleep_for(2s);  // well inside the run: threads 0 and 1 move x, y and z

  ASSERT_EQ(::kill(nodes[1], SIGKILL), 0);
  pollfd pfd{.fd = child->pidfd().get(), .events = POLLIN, .revents = 0};
  const int ready = ::poll(&pfd, 1, 30000);
  const auto gone_deadline = std::chrono::steady_clock::now() + 10s;
  while (std::ranges::any_of(nodes, process_exists) &&
         std::chrono::steady_clock::now() < gone_deadline) {
    std::this_thread::sleep_for(50ms);
  }

  ASSERT_EQ(ready, 1) << "heca run did not end";
  auto status = child->reap();
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->success());
  for (const pid_t pid : nodes) EXPECT_FALSE(process_exists(pid)) << "node process " << pid;
  err += drain(child->stderr_pipe());
  EXPECT_NE(err.find("node 1 ("), std::string::npos) << err;
  EXPECT_EQ(count_containing(kernel_log(), "soft lockup"), lockups_before) << kernel_log();
}

}  // namespace
}  // namespace heca::testing

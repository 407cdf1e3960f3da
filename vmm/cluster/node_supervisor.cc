#include "vmm/cluster/node_supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>

#include "kernel/base/check.h"
#include "kernel/base/fd.h"
#include "kernel/base/log.h"

namespace heca::vmm::cluster {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxLine = 64 * 1024;  // a longer run without '\n' is forwarded as a line

// The write end of the wake pipe of the supervisor that handles SIGINT/SIGTERM, or -1.
std::atomic<int> g_signal_wake_fd{-1};

void on_stop_signal(int signo) {
  const int saved = errno;
  const int fd = g_signal_wake_fd.load();
  const auto byte = static_cast<unsigned char>(signo);
  if (fd >= 0) [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
  errno = saved;
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

LineSink default_sink(bool prefix) {
  return [prefix](std::uint32_t node, OutputStream stream, std::string_view line) {
    const std::string text =
        prefix ? fmt::format("[node {}] {}\n", node, line) : fmt::format("{}\n", line);
    write_all(stream == OutputStream::kStdout ? STDOUT_FILENO : STDERR_FILENO, text);
  };
}

enum class Phase { kRunning, kDraining, kTerminating, kKilling };

template <typename T>
bool contains(const std::vector<T>& items, const T& item) {
  return std::ranges::find(items, item) != items.end();
}

struct OutputPipe {
  OutputStream kind;
  std::string pending;  // bytes after the last '\n'
};

struct RunningNode {
  NodeProcess spec;
  ChildProcess child;
  std::array<OutputPipe, 2> pipes{OutputPipe{OutputStream::kStdout, {}},
                                  OutputPipe{OutputStream::kStderr, {}}};
  bool signaled_by_us = false;

  Fd& fd_of(std::size_t pipe) { return pipe == 0 ? child.stdout_pipe() : child.stderr_pipe(); }
};

}  // namespace

struct NodeSupervisor::State {
  SupervisorOptions options;
  std::vector<RunningNode> nodes;
  Fd wake_read;
  Fd wake_write;
  Phase phase = Phase::kRunning;
  Clock::time_point deadline;
  ClusterOutcome outcome;
  std::optional<int> exit_code;
  bool handles_signals = false;
  // The nodes whose process runs, for running() on other threads. LOCKING: running_mu.
  mutable std::mutex running_mu;
  std::vector<std::uint32_t> running_nodes;  // GUARDED_BY(running_mu)
  struct sigaction old_int {};
  struct sigaction old_term {};

  ~State() { restore_signals(); }

  Status install_signals();
  void restore_signals();
  void emit(RunningNode& node, OutputPipe& pipe, std::string_view line) const;
  void read_pipe(RunningNode& node, std::size_t pipe);
  void flush_all();
  void signal_all(int signo);
  void begin_terminate();
  void escalate();
  void on_exit(RunningNode& node, ExitStatus status);
  void abandon_unreaped();
  [[nodiscard]] bool is_guest_stop(const ExitStatus& status) const;
  void on_wake();
  [[nodiscard]] bool all_reaped() const;
  [[nodiscard]] int poll_timeout_ms() const;
  void poll_once();
};

Status NodeSupervisor::State::install_signals() {
  int expected = -1;
  HECA_CHECK(g_signal_wake_fd.compare_exchange_strong(expected, wake_write.get()));
  handles_signals = true;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  ::sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (::sigaction(SIGINT, &action, &old_int) != 0 || ::sigaction(SIGTERM, &action, &old_term) != 0) {
    return errno_error("sigaction for SIGINT/SIGTERM");
  }
  return {};
}

void NodeSupervisor::State::restore_signals() {
  if (!handles_signals) return;
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  g_signal_wake_fd.store(-1);
  handles_signals = false;
}

void NodeSupervisor::State::emit(RunningNode& node, OutputPipe& pipe, std::string_view line) const {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  options.sink(node.spec.node_id, pipe.kind, line);
}

void NodeSupervisor::State::read_pipe(RunningNode& node, std::size_t index) {
  Fd& fd = node.fd_of(index);
  OutputPipe& pipe = node.pipes[index];
  std::array<char, 8192> buffer{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      fd.reset();
      return;
    }
    pipe.pending.append(buffer.data(), static_cast<std::size_t>(n));
    std::size_t newline = 0;
    while ((newline = pipe.pending.find('\n')) != std::string::npos) {
      emit(node, pipe, std::string_view(pipe.pending).substr(0, newline));
      pipe.pending.erase(0, newline + 1);
    }
    if (pipe.pending.size() >= kMaxLine) {
      emit(node, pipe, pipe.pending);
      pipe.pending.clear();
    }
  }
}

void NodeSupervisor::State::flush_all() {
  for (auto& node : nodes) {
    for (std::size_t i = 0; i < node.pipes.size(); ++i) {
      if (node.fd_of(i)) read_pipe(node, i);
      if (!node.pipes[i].pending.empty()) emit(node, node.pipes[i], node.pipes[i].pending);
      node.pipes[i].pending.clear();
    }
  }
}

void NodeSupervisor::State::signal_all(int signo) {
  for (auto& node : nodes) {
    if (node.child.reaped()) continue;
    node.signaled_by_us = true;
    node.child.signal_group(signo);
  }
}

void NodeSupervisor::State::begin_terminate() {
  signal_all(SIGTERM);
  phase = Phase::kTerminating;
  deadline = Clock::now() + options.grace;
}

void NodeSupervisor::State::escalate() {
  if (phase == Phase::kDraining) {
    begin_terminate();
  } else if (phase == Phase::kTerminating) {
    spdlog::warn("nodes still running {} ms after SIGTERM; sending SIGKILL", options.grace.count());
    signal_all(SIGKILL);
    phase = Phase::kKilling;
    deadline = Clock::now() + options.grace;
  } else if (phase == Phase::kKilling) {
    abandon_unreaped();
  }
}

// A process that SIGKILL does not end has a thread inside the host kernel; waiting for it
// would hang heca run with it. It is named and left to end (and be reaped) on its own.
void NodeSupervisor::State::abandon_unreaped() {
  for (auto& node : nodes) {
    if (node.child.reaped()) continue;
    spdlog::error("{} (pid {}) is still running {} ms after SIGKILL: a thread of it is stuck in "
                  "the host kernel; not waiting for it",
                  node_name(node.spec.node_id, node.spec.address), node.child.pid(),
                  options.grace.count());
    outcome.abandoned.push_back(node.spec.node_id);
    node.child.abandon();
  }
  if (!exit_code) exit_code = kNodeLostExitCode;
}

bool NodeSupervisor::State::is_guest_stop(const ExitStatus& status) const {
  return !status.signaled && contains(options.guest_stop_codes, status.value);
}

void NodeSupervisor::State::on_exit(RunningNode& node, ExitStatus status) {
  outcome.exits.push_back({node.spec.node_id, status, node.signaled_by_us});
  {
    const std::lock_guard lock(running_mu);
    std::erase(running_nodes, node.spec.node_id);
  }
  if (phase != Phase::kRunning) return;
  const std::string name = node_name(node.spec.node_id, node.spec.address);
  const bool is_result = node.spec.node_id == options.result_node;
  if ((is_result && !status.signaled) || is_guest_stop(status)) {
    // The guest has finished; the other nodes are expected to follow on their own.
    if (status.value != 0) spdlog::error("{} {}", name, status.describe());
    exit_code = status.value;
    phase = Phase::kDraining;
    deadline = Clock::now() + options.grace;
    return;
  }
  if (status.success()) return;
  outcome.lost = fmt::format("{} lost: {}", name, status.describe());
  spdlog::error("{}; stopping the other nodes", outcome.lost);
  exit_code = is_result ? status.shell_code() : kNodeLostExitCode;
  begin_terminate();
}

void NodeSupervisor::State::on_wake() {
  std::array<unsigned char, 16> bytes{};
  const ssize_t n = ::read(wake_read.get(), bytes.data(), bytes.size());
  if (n <= 0) return;
  const int signo = bytes[0];
  if (phase == Phase::kTerminating || phase == Phase::kKilling) {
    escalate();
    return;
  }
  spdlog::warn("stopping the cluster on signal {}", signo);
  if (!exit_code) exit_code = 128 + signo;
  begin_terminate();
}

bool NodeSupervisor::State::all_reaped() const {
  return std::ranges::all_of(nodes, [](const RunningNode& n) { return n.child.reaped(); });
}

int NodeSupervisor::State::poll_timeout_ms() const {
  if (phase == Phase::kRunning) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

void NodeSupervisor::State::poll_once() {
  // Layout: [wake, then per node: pidfd, stdout, stderr]; closed fds are -1 and ignored by poll.
  std::vector<pollfd> fds{{wake_read.get(), POLLIN, 0}};
  for (auto& node : nodes) {
    fds.push_back({node.child.reaped() ? -1 : node.child.pidfd().get(), POLLIN, 0});
    fds.push_back({node.fd_of(0) ? node.fd_of(0).get() : -1, POLLIN, 0});
    fds.push_back({node.fd_of(1) ? node.fd_of(1).get() : -1, POLLIN, 0});
  }
  const int ready = ::poll(fds.data(), fds.size(), poll_timeout_ms());
  if (ready < 0) return;  // EINTR: the wake pipe carries the signal
  if (ready == 0) {
    escalate();
    return;
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (std::size_t p = 0; p < 2; ++p) {
      if (fds[2 + 3 * i + p].revents != 0 && nodes[i].fd_of(p)) read_pipe(nodes[i], p);
    }
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (fds[1 + 3 * i].revents == 0 || nodes[i].child.reaped()) continue;
    auto status = nodes[i].child.reap();
    HECA_CHECK(status.has_value());
    on_exit(nodes[i], *status);
  }
  if (fds[0].revents != 0) on_wake();
}

std::string node_name(std::uint32_t node_id, std::string_view address) {
  if (address.empty()) return fmt::format("node {}", node_id);
  return fmt::format("node {} ({})", node_id, address);
}

Result<NodeSupervisor> NodeSupervisor::start(std::vector<NodeProcess> nodes,
                                             SupervisorOptions options) {
  HECA_CHECK(std::ranges::any_of(
      nodes, [&](const NodeProcess& n) { return n.node_id == options.result_node; }));
  auto state = std::make_unique<State>();
  if (!options.sink) options.sink = default_sink(options.prefix_output);
  state->options = std::move(options);
  std::array<int, 2> wake{};
  if (::pipe2(wake.data(), O_CLOEXEC | O_NONBLOCK) != 0) return errno_error("pipe2 (wake)");
  state->wake_read = Fd(wake[0]);
  state->wake_write = Fd(wake[1]);
  if (state->options.handle_signals) {
    if (auto s = state->install_signals(); !s) return std::unexpected(s.error());
  }
  for (auto& spec : nodes) {
    auto child = ChildProcess::spawn({.argv = spec.argv, .netns = spec.netns});
    if (!child) {
      return wrap_error(child.error(), fmt::format("starting {}", node_name(spec.node_id,
                                                                            spec.address)));
    }
    const std::uint32_t id = spec.node_id;
    state->nodes.push_back({.spec = std::move(spec), .child = std::move(*child)});
    const std::lock_guard lock(state->running_mu);
    state->running_nodes.push_back(id);
  }
  return NodeSupervisor(std::move(state));
}

NodeSupervisor::NodeSupervisor(std::unique_ptr<State> state) : state_(std::move(state)) {}
NodeSupervisor::NodeSupervisor(NodeSupervisor&&) noexcept = default;
NodeSupervisor& NodeSupervisor::operator=(NodeSupervisor&&) noexcept = default;
NodeSupervisor::~NodeSupervisor() = default;

ClusterOutcome NodeSupervisor::wait() {
  State& s = *state_;
  while (!s.all_reaped()) s.poll_once();
  s.flush_all();
  s.restore_signals();
  s.outcome.exit_code = s.exit_code.value_or(0);
  return s.outcome;
}

void NodeSupervisor::request_stop() {
  const auto byte = static_cast<unsigned char>(SIGTERM);
  [[maybe_unused]] const ssize_t n = ::write(state_->wake_write.get(), &byte, 1);
}

bool NodeSupervisor::running(std::uint32_t node_id) const {
  const std::lock_guard lock(state_->running_mu);
  return contains(state_->running_nodes, node_id);
}

std::vector<pid_t> NodeSupervisor::pids() const {
  std::vector<pid_t> out;
  for (const auto& node : state_->nodes) out.push_back(node.child.pid());
  return out;
}

}  // namespace heca::vmm::cluster

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

constexpr int kNodes = 3;
constexpr int kNotPermitted = 3;  // scripts/netns-cluster's exit code when namespaces are refused

std::string script() {
  return std::string(HECA_SOURCE_DIR) + "/scripts/netns-cluster";
}

int run_script(const std::string& args) {
  const int status = std::system((script() + " " + args).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Owns the namespaces PREFIX-0..N-1 (+ bridge) for the life of a test, whatever happens.
class NetnsCluster {
 public:
  NetnsCluster() : prefix_("hxt" + std::to_string(::getpid() % 100000)) {
    up_status_ = run_script("up " + std::to_string(kNodes) + " " + prefix_);
  }
  ~NetnsCluster() { run_script("down " + std::to_string(kNodes) + " " + prefix_); }
  NetnsCluster(const NetnsCluster&) = delete;
  NetnsCluster& operator=(const NetnsCluster&) = delete;
  [[nodiscard]] int up_status() const { return up_status_; }
  [[nodiscard]] const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
  int up_status_ = -1;
};

// Starts the node program inside namespace PREFIX-i.
pid_t spawn_node(const std::string& prefix, int i, int port) {
  std::vector<std::string> args{script(),
                                "exec",
                                std::to_string(i),
                                prefix,
                                HECA_NETNS_NODE,
                                std::to_string(i),
                                std::to_string(kNodes),
                                std::to_string(port),
                                "500"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

// Waits for each child with a deadline; kills (only) the children still running after it.
std::vector<int> wait_all(const std::vector<pid_t>& pids, std::chrono::seconds timeout) {
  std::vector<int> codes(pids.size(), -1);
  std::vector<bool> reaped(pids.size(), false);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t left = pids.size();
  while (left > 0 && std::chrono::steady_clock::now() < deadline) {
    for (std::size_t i = 0; i < pids.size(); ++i) {
      int status = 0;
      if (reaped[i] || ::waitpid(pids[i], &status, WNOHANG) != pids[i]) continue;
      reaped[i] = true;
      --left;
      codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (std::size_t i = 0; i < pids.size(); ++i) {
    if (reaped[i]) continue;
    ::kill(pids[i], SIGKILL);
    ::waitpid(pids[i], nullptr, 0);
  }
  return codes;
}

TEST(TcpTransportNetns, ThreeNamespacedProcessesExchangeAllToAll) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  NetnsCluster cluster;
  if (cluster.up_status() == kNotPermitted) GTEST_SKIP() << "network namespaces not permitted here";
  ASSERT_EQ(cluster.up_status(), 0) << "netns-cluster up failed";
  std::vector<pid_t> pids;
  for (int i = 0; i < kNodes; ++i) pids.push_back(spawn_node(cluster.prefix(), i, 7400));

  const std::vector<int> codes = wait_all(pids, std::chrono::seconds(60));

  EXPECT_EQ(codes, std::vector<int>(kNodes, 0));
}

}  // namespace

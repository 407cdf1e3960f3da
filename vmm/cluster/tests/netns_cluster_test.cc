#include "vmm/cluster/netns_cluster.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "vmm/cluster/node_supervisor.h"

namespace heca::vmm::cluster {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

// Names under /run/netns that belong to `prefix`.
std::vector<std::string> namespaces_with_prefix(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ignored)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix + "-")) out.push_back(name);
  }
  return out;
}

Result<NetnsCluster> create_or_skip_reason(std::size_t nodes, std::string& skip) {
  auto cluster = NetnsCluster::create(nodes);
  if (!cluster && namespaces_not_permitted(cluster.error())) skip = cluster.error().message();
  return cluster;
}

TEST(NetnsCluster, NodesTalkTcpAcrossTheBridgeAndNothingIsLeftAfterwards) {
  std::string skip;
  auto cluster = create_or_skip_reason(2, skip);
  if (!skip.empty()) GTEST_SKIP() << "network namespaces cannot be created here: " << skip;
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message();
  const std::string prefix = cluster->prefix();
  std::mutex mutex;
  std::vector<std::string> lines;
  SupervisorOptions options{.result_node = 1, .prefix_output = false, .grace = 1000ms,
                            .handle_signals = false,
                            .sink = [&](std::uint32_t node, OutputStream, std::string_view line) {
                              const std::lock_guard lock(mutex);
                              lines.push_back(fmt::format("{}:{}", node, line));
                            }};
  const std::string port = "7790";
  auto supervisor = NodeSupervisor::start(
      {NodeProcess{0, NetnsCluster::address(0),
                   {HECA_TCP_PROBE, "connect", NetnsCluster::address(1), port, "hello"},
                   cluster->namespace_name(0)},
       NodeProcess{1, NetnsCluster::address(1),
                   {HECA_TCP_PROBE, "listen", NetnsCluster::address(1), port},
                   cluster->namespace_name(1)}},
      options);
  ASSERT_TRUE(supervisor.has_value()) << supervisor.error().message();

  const ClusterOutcome outcome = supervisor->wait();
  const Status teardown = cluster->destroy();

  EXPECT_EQ(outcome.exit_code, 0) << outcome.lost;
  EXPECT_THAT(lines, Contains("1:received: hello"));
  EXPECT_TRUE(teardown.has_value()) << teardown.error().message();
  EXPECT_THAT(namespaces_with_prefix(prefix), IsEmpty());
}

TEST(NetnsCluster, DestructorRemovesEveryNamespace) {
  std::string skip;
  std::string prefix;
  {
    auto cluster = create_or_skip_reason(3, skip);
    if (!skip.empty()) GTEST_SKIP() << "network namespaces cannot be created here: " << skip;
    ASSERT_TRUE(cluster.has_value()) << cluster.error().message();
    prefix = cluster->prefix();
    EXPECT_EQ(namespaces_with_prefix(prefix).size(), 4U);
  }

  EXPECT_THAT(namespaces_with_prefix(prefix), IsEmpty());
}

TEST(NetnsCluster, InstancesGetDistinctPrefixes) {
  std::string skip;
  auto first = create_or_skip_reason(1, skip);
  if (!skip.empty()) GTEST_SKIP() << "network namespaces cannot be created here: " << skip;
  auto second = create_or_skip_reason(1, skip);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  ASSERT_TRUE(second.has_value()) << second.error().message();

  EXPECT_NE(first->prefix(), second->prefix());
}

TEST(NetnsCluster, BadPrefixIsAnErrorNotASkip) {
  auto cluster = NetnsCluster::create(2, {.prefix = "Bad-Prefix", .script = {}});

  ASSERT_FALSE(cluster.has_value());
  EXPECT_FALSE(namespaces_not_permitted(cluster.error()));
  EXPECT_THAT(cluster.error().message(), ::testing::HasSubstr("PREFIX must match"));
}

}  // namespace
}  // namespace heca::vmm::cluster

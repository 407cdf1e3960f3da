// The supervisor's control target over real node sockets (fake targets behind them): status and
// stats gather every node, pause must reach every node, stop one; unreachable nodes are named.
#include "vmm/node/cluster_control.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "vmm/control/control_server.h"
#include "vmm/control/tests/fake_target.h"

namespace heca::vmm::node {
namespace {

using nlohmann::json;

// Node 0 answers on its socket; node 1's socket does not exist.
class ClusterControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "heca-cc-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    const std::string control = (dir_ / "g.sock").string();
    auto server = control::ControlServer::bind(node_socket_path(control, 0));
    ASSERT_TRUE(server.has_value()) << server.error().message();
    server_ = std::move(*server);
    server_->serve(node0_);
    cluster_ = std::make_unique<ClusterControl>(std::vector<NodeSocket>{
        {.node = 0, .address = "10.0.0.1", .path = node_socket_path(control, 0)},
        {.node = 1, .address = "10.0.0.2", .path = node_socket_path(control, 1)}});
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  control::FakeTarget node0_;
  std::unique_ptr<control::ControlServer> server_;
  std::unique_ptr<ClusterControl> cluster_;
};

TEST(NodeSocketPath, IsTheControlPathWithTheNodesSuffix) {
  EXPECT_EQ(node_socket_path("/run/g.sock", 2), "/run/g.sock.node2");
}

TEST_F(ClusterControlTest, StatusHasEveryNodeAndNamesTheUnreachableOne) {
  auto status = cluster_->status();

  ASSERT_TRUE(status.has_value()) << status.error().message();
  const json& nodes = status->at("nodes");
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].at("status").at("guest").at("state"), "running");
  EXPECT_EQ(nodes[0].at("address"), "10.0.0.1");
  EXPECT_EQ(nodes[1].at("alive"), true);  // no supervisor yet: nobody said it ended
  EXPECT_NE(nodes[1].at("error").get<std::string>().find(".node1"), std::string::npos);
}

TEST_F(ClusterControlTest, StatsHasEveryNodesStats) {
  auto stats = cluster_->stats();

  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->at("nodes")[0].at("stats").at("memory").at("page_faults"), 42);
  EXPECT_TRUE(stats->at("nodes")[1].contains("error"));
}

TEST_F(ClusterControlTest, PauseFailsNamingTheNodeThatDidNotPause) {
  auto paused = cluster_->pause();

  ASSERT_FALSE(paused.has_value());
  EXPECT_NE(paused.error().message().find("pause failed on 1 of 2 nodes: node 1: "),
            std::string::npos)
      << paused.error().message();
  EXPECT_EQ(node0_.pauses, 1);
}

TEST_F(ClusterControlTest, StopSucceedsWhenOneNodeStopped) {
  auto stopped = cluster_->stop();

  EXPECT_TRUE(stopped.has_value()) << stopped.error().message();
  EXPECT_EQ(node0_.stops, 1);
}

}  // namespace
}  // namespace heca::vmm::node

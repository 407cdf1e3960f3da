#include "vmm/cluster/launch_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace heca::vmm::cluster {
namespace {

using ::testing::ElementsAre;

GuestDescription load_example(const std::string& name) {
  auto d = load_guest_description(std::string(HECA_CLUSTER_EXAMPLES) + "/" + name);
  EXPECT_TRUE(d.has_value()) << d.error().message();
  return d.value_or(GuestDescription{});
}

TEST(LaunchPlan, FormattedExampleParsesBackEqual) {
  const GuestDescription original = load_example("three-nodes.toml");

  auto reparsed = parse_guest_description(format_guest_description(original), original.source);

  ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message();
  EXPECT_EQ(*reparsed, original);
}

TEST(LaunchPlan, FormattedExplicitHomesExampleParsesBackEqual) {
  const GuestDescription original = load_example("explicit-homes.toml");

  auto reparsed = parse_guest_description(format_guest_description(original), original.source);

  ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message();
  EXPECT_EQ(*reparsed, original);
}

TEST(LaunchPlan, FormattedLinuxGuestKeepsItsKernel) {
  auto original = parse_guest_description(R"(
[guest]
memory = "64M"
kind = "linux"
kernel = "/bin/sh"
cmdline = "console=ttyS0 quiet"
time_dilation = 10
[transport]
key_file = "/bin/sh"
[coherence]
min_hold_us = 40
max_hold_us = 3000
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
)", "linux.toml");
  ASSERT_TRUE(original.has_value()) << original.error().message();

  auto reparsed = parse_guest_description(format_guest_description(*original), "linux.toml");

  ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message();
  EXPECT_EQ(*reparsed, *original);
}

TEST(LaunchPlan, LoopbackFillsOnlyEmptyAddresses) {
  GuestDescription d = load_example("explicit-homes.toml");
  d.nodes[1].address.clear();

  fill_default_addresses(d, AddressMode::kLoopback);

  EXPECT_EQ(d.nodes[0].address, "10.77.0.1");
  EXPECT_EQ(d.nodes[1].address, "127.0.0.1");
}

TEST(LaunchPlan, NamespaceAddressesFollowNodeIds) {
  GuestDescription d = load_example("three-nodes.toml");

  fill_default_addresses(d, AddressMode::kNamespaces);

  EXPECT_EQ(d.nodes[2].address, "10.77.0.3");
}

TEST(LaunchPlan, EveryNodeRunsHecaNodeWithItsIdAndNamespace) {
  GuestDescription d = load_example("three-nodes.toml");
  fill_default_addresses(d, AddressMode::kNamespaces);

  const auto processes = plan_node_processes(
      d, {.heca_binary = "/bin/heca", .config_path = "/tmp/g.toml", .extra_args = {"--stats"},
          .namespaces = {"p-0", "p-1", "p-2"}});

  ASSERT_EQ(processes.size(), 3U);
  EXPECT_THAT(processes[1].argv,
              ElementsAre("/bin/heca", "node", "--config", "/tmp/g.toml", "--id", "1", "--stats"));
  EXPECT_EQ(processes[1].netns, "p-1");
  EXPECT_EQ(processes[1].address, "10.77.0.2");
}

}  // namespace
}  // namespace heca::vmm::cluster

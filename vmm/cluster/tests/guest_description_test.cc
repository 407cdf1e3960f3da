#include "vmm/cluster/guest_description.h"
#include "vmm/cluster/description_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace heca::vmm::cluster {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::uint64_t kMiB = 1ULL << 20;

constexpr std::string_view kGuest = "[guest]\nmemory = \"64M\"\n";

constexpr std::string_view kTwoNodes = R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]

[[node]]
id = 1
roles = ["compute", "memory"]
vcpus = [1]
)";

std::string with_two_nodes(std::string_view guest) { return std::string(guest) + std::string(kTwoNodes); }

// The error message for `text` (parsed as "guest.toml"), or "<parsed>" when it is accepted.
std::string error_of(std::string_view text) {
  auto parsed = parse_guest_description(text, "guest.toml");
  return parsed ? std::string("<parsed>") : parsed.error().message();
}

GuestDescription parse_ok(std::string_view text) {
  auto parsed = parse_guest_description(text, "guest.toml");
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message();
  return parsed.value_or(GuestDescription{});
}

TEST(GuestDescription, MinimalFileGetsDefaults) {
  const GuestDescription d = parse_ok(with_two_nodes(kGuest));

  EXPECT_EQ(d.kind, GuestKind::kTest);
  EXPECT_EQ(d.transport, TransportKind::kTcp);
  EXPECT_EQ(d.base_port, kDefaultBasePort);
  EXPECT_EQ(d.cmdline, "");
  EXPECT_EQ(d.time_dilation, 1U);
  EXPECT_EQ(d.vcpu_count(), 2U);
  EXPECT_EQ(d.io_node(), 0U);
  EXPECT_EQ(d.nodes[1].address, "");
  EXPECT_EQ(d.nodes[0].home, (std::vector<MemoryRange>{{0, 32 * kMiB}}));
  EXPECT_EQ(d.nodes[1].home, (std::vector<MemoryRange>{{32 * kMiB, 32 * kMiB}}));
}

TEST(GuestDescription, DefaultSharesRoundToTwoMegabytesAndLastTakesTheRest) {
  auto shares = default_shares(100 * kMiB, {1, 1, 1});

  ASSERT_TRUE(shares.has_value());
  EXPECT_EQ(*shares, (std::vector<MemoryRange>{
                         {0, 32 * kMiB}, {32 * kMiB, 32 * kMiB}, {64 * kMiB, 36 * kMiB}}));
}

TEST(GuestDescription, DefaultHomingFollowsMemoryShare) {
  const GuestDescription d = parse_ok(std::string(kGuest) + R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
[[node]]
id = 1
roles = ["compute"]
vcpus = [1]
[[node]]
id = 2
roles = ["memory"]
memory_share = 3
)");

  EXPECT_EQ(d.nodes[0].home, (std::vector<MemoryRange>{{0, 16 * kMiB}}));
  EXPECT_TRUE(d.nodes[1].home.empty());
  EXPECT_EQ(d.nodes[2].home, (std::vector<MemoryRange>{{16 * kMiB, 48 * kMiB}}));
  EXPECT_EQ(d.home_of(20 * kMiB), 2U);
}

TEST(GuestDescription, NodesAreOrderedByIdWhateverTheFileOrder) {
  const GuestDescription d = parse_ok(std::string(kGuest) + R"(
[[node]]
id = 1
roles = ["compute", "memory"]
vcpus = [1]
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
)");

  EXPECT_EQ(d.nodes[0].id, 0U);
  EXPECT_EQ(d.node_of_vcpu(1), 1U);
}

TEST(GuestDescription, ThreeNodeExampleLoads) {
  auto d = load_guest_description(HECA_CLUSTER_EXAMPLES "/three-nodes.toml");

  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(d->memory_bytes, 1ULL << 30);
  EXPECT_EQ(d->cmdline, "iters=1000");
  EXPECT_EQ(d->nodes.size(), 3U);
  EXPECT_EQ(d->vcpu_count(), 5U);
  EXPECT_EQ(d->node_of_vcpu(4), 2U);
  EXPECT_EQ(d->nodes[2].home, (std::vector<MemoryRange>{{680 * kMiB, 344 * kMiB}}));
}

TEST(GuestDescription, ExplicitHomesExampleLoads) {
  auto d = load_guest_description(HECA_CLUSTER_EXAMPLES "/explicit-homes.toml");

  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(d->nodes[0].address, "10.77.0.1");
  EXPECT_EQ(d->nodes[1].home, (std::vector<MemoryRange>{{512 * kMiB, 1536 * kMiB}}));
  EXPECT_EQ(d->home_of(0), 0U);
  EXPECT_EQ(d->home_assignments().back().node, 1U);
}

TEST(GuestDescription, MissingFileIsNamed) {
  EXPECT_THAT(load_guest_description("/nonexistent/guest.toml").error().message(),
              HasSubstr("/nonexistent/guest.toml"));
}

TEST(GuestDescription, TimeDilationIsRead) {
  EXPECT_EQ(parse_ok(with_two_nodes("[guest]\nmemory = \"64M\"\ntime_dilation = 20\n")).time_dilation,
            20U);
}

TEST(GuestDescription, KeyFileIsReadAndMustExist) {
  EXPECT_EQ(parse_ok(with_two_nodes(std::string(kGuest) + "[transport]\nkey_file = \"/bin/sh\"\n"))
                .key_file,
            "/bin/sh");
  EXPECT_EQ(parse_ok(with_two_nodes(kGuest)).key_file, "");
  EXPECT_THAT(error_of(with_two_nodes(std::string(kGuest) +
                                      "[transport]\nkey_file = \"/nonexistent/cluster.key\"\n")),
              AllOf(HasSubstr("transport.key_file"), HasSubstr("/nonexistent/cluster.key")));
}

TEST(GuestDescription, HoldTimesAreReadWithDefaults) {
  const auto tuned = parse_ok(with_two_nodes(std::string(kGuest) +
                                             "[coherence]\nmin_hold_us = 50\nmax_hold_us = 2000\n"));
  const auto plain = parse_ok(with_two_nodes(kGuest));

  EXPECT_EQ(tuned.min_hold_us, 50U);
  EXPECT_EQ(tuned.max_hold_us, 2000U);
  EXPECT_EQ(plain.min_hold_us, kDefaultMinHoldUs);
  EXPECT_EQ(plain.max_hold_us, kDefaultMaxHoldUs);
}

TEST(GuestDescriptionErrors, HoldTimesOutOfRangeOrCrossedAreNamed) {
  EXPECT_THAT(error_of(with_two_nodes(std::string(kGuest) + "[coherence]\nmin_hold_us = 0\n")),
              HasSubstr("coherence.min_hold_us: must be 1..1000000 microseconds, got 0"));
  EXPECT_THAT(
      error_of(with_two_nodes(std::string(kGuest) + "[coherence]\nmax_hold_us = 1000001\n")),
      HasSubstr("coherence.max_hold_us: must be 1..1000000 microseconds, got 1000001"));
  EXPECT_THAT(error_of(with_two_nodes(std::string(kGuest) +
                                      "[coherence]\nmin_hold_us = 300\nmax_hold_us = 200\n")),
              HasSubstr("coherence.min_hold_us: 300 is above max_hold_us (200)"));
  EXPECT_THAT(error_of(with_two_nodes(std::string(kGuest) + "[coherence]\nhold = 1\n")),
              HasSubstr("coherence.hold"));
}

TEST(GuestDescriptionErrors, TimeDilationOutOfRangeIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = \"64M\"\ntime_dilation = 0\n")),
              HasSubstr("guest.time_dilation: must be 1..1000, got 0"));
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = \"64M\"\ntime_dilation = 1001\n")),
              HasSubstr("guest.time_dilation: must be 1..1000, got 1001"));
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = \"64M\"\ntime_dilation = \"10\"\n")),
              HasSubstr("guest.time_dilation"));
}

TEST(GuestDescriptionErrors, SyntaxErrorGivesLineAndColumn) {
  EXPECT_THAT(error_of("[guest]\nmemory = \"64M\"\nvcpus = [0,\n"),
              AllOf(StartsWith("guest.toml:3:"), HasSubstr("TOML syntax error")));
}

TEST(GuestDescriptionErrors, UnknownTopLevelKeyIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes("bogus = 1\n[guest]\nmemory = \"64M\"\n")),
              AllOf(StartsWith("guest.toml:1:1: bogus: unknown key")));
}

TEST(GuestDescriptionErrors, UnknownKeyInNodeIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes(kGuest) + "colour = \"red\"\n"),
              HasSubstr("node[1].colour: unknown key"));
}

TEST(GuestDescriptionErrors, UnknownKeyInHomeRangeIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
home = [{ start = "0", size = "64M", stride = 2 }]
)"),
              HasSubstr("node[0].home[0].stride: unknown key"));
}

TEST(GuestDescriptionErrors, WrongTypeIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = true\n")),
              HasSubstr("guest.memory: expected a size"));
}

TEST(GuestDescriptionErrors, WrongElementTypeIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) +
                       "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\nvcpus = [\"0\"]\n"),
              HasSubstr("node[0].vcpus: expected an array of integers, got string"));
}

TEST(GuestDescriptionErrors, VcpuPlacedTwiceNamesBothNodes) {
  EXPECT_THAT(error_of(std::string(kGuest) + R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0, 1]
[[node]]
id = 1
roles = ["compute"]
vcpus = [1]
)"),
              HasSubstr("node[1].vcpus: vCPU 1 is placed on both node 0 and node 1"));
}

TEST(GuestDescriptionErrors, VcpuIdsWithAGapAreRejected) {
  EXPECT_THAT(error_of(std::string(kGuest) + R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0, 2]
)"),
              HasSubstr("node[0].vcpus: vCPU ids must be 0..1 without gaps, but vCPU 2 is placed "
                        "and vCPU 1 is not"));
}

TEST(GuestDescriptionErrors, NodeIdOutOfRangeIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
[[node]]
id = 5
roles = ["compute"]
vcpus = [1]
)"),
              HasSubstr("node[1].id: node id 5 is out of range"));
}

TEST(GuestDescriptionErrors, DuplicateNodeIdIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
[[node]]
id = 0
roles = ["compute"]
vcpus = [1]
)"),
              HasSubstr("node[1].id: node id 0 is used by both node[0] and node[1]"));
}

TEST(GuestDescriptionErrors, NoIoNodeIsRejected) {
  EXPECT_THAT(error_of(std::string(kGuest) +
                       "[[node]]\nid = 0\nroles = [\"compute\", \"memory\"]\nvcpus = [0]\n"),
              HasSubstr("node: no node has the \"io\" role"));
}

TEST(GuestDescriptionErrors, SecondIoNodeIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
[[node]]
id = 1
roles = ["compute", "io"]
vcpus = [1]
)"),
              HasSubstr("node[1].roles: both node 0 and node 1 have the \"io\" role"));
}

TEST(GuestDescriptionErrors, UnknownRoleIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) +
                       "[[node]]\nid = 0\nroles = [\"compute\", \"gpu\"]\nvcpus = [0]\n"),
              HasSubstr("node[0].roles: unknown role \"gpu\""));
}

TEST(GuestDescriptionErrors, ComputeNodeWithoutVcpusIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) +
                       "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\n"),
              HasSubstr("node[0].vcpus: a \"compute\" node needs a non-empty list of vCPUs"));
}

TEST(GuestDescriptionErrors, VcpusWithoutComputeRoleAreNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
[[node]]
id = 1
roles = ["memory"]
vcpus = [1]
)"),
              HasSubstr("node[1].vcpus: vCPUs on a node without the \"compute\" role"));
}

TEST(GuestDescriptionErrors, ZeroMemoryIsRejected) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = 0\n")),
              HasSubstr("guest.memory: must not be zero"));
}

TEST(GuestDescriptionErrors, UnalignedMemoryIsRejected) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = 4097\n")),
              HasSubstr("guest.memory: 4097 bytes is not a multiple of the 4 KiB page"));
}

TEST(GuestDescriptionErrors, MissingMemoryIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nkind = \"test\"\n")),
              HasSubstr("guest.memory: required key is missing from [guest]"));
}

constexpr std::string_view kExplicitNode0 = R"(
[[node]]
id = 0
roles = ["compute", "memory", "io"]
vcpus = [0]
home = [{ start = "0", size = "32M" }]
[[node]]
id = 1
roles = ["compute", "memory"]
vcpus = [1]
)";

TEST(GuestDescriptionErrors, OverlappingHomeRangesAreNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + std::string(kExplicitNode0) +
                       "home = [{ start = \"16M\", size = \"48M\" }]\n"),
              HasSubstr("node[1].home[0].start: home range [0x1000000, 0x4000000) overlaps"));
}

TEST(GuestDescriptionErrors, GapBetweenHomeRangesIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + std::string(kExplicitNode0) +
                       "home = [{ start = \"40M\", size = \"24M\" }]\n"),
              HasSubstr("node[1].home[0].start: home ranges leave a gap [0x2000000, 0x2800000)"));
}

TEST(GuestDescriptionErrors, HomeRangePastGuestMemoryIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + std::string(kExplicitNode0) +
                       "home = [{ start = \"32M\", size = \"64M\" }]\n"),
              HasSubstr("node[1].home[0].size: home range [0x2000000, 0x6000000) runs past"));
}

TEST(GuestDescriptionErrors, UncoveredTailOfMemoryIsReported) {
  EXPECT_THAT(error_of(std::string(kGuest) + std::string(kExplicitNode0) +
                       "home = [{ start = \"32M\", size = \"16M\" }]\n"),
              HasSubstr("node.home: home ranges leave guest memory [0x3000000, 0x4000000)"));
}

TEST(GuestDescriptionErrors, ExplicitHomesMustBeGivenForEveryMemoryNode) {
  EXPECT_THAT(error_of(std::string(kGuest) + std::string(kExplicitNode0)),
              HasSubstr("node[1].home: other nodes list explicit home ranges"));
}

TEST(GuestDescriptionErrors, UnalignedHomeRangeIsNamed) {
  EXPECT_THAT(error_of(std::string(kGuest) + std::string(kExplicitNode0) +
                       "home = [{ start = \"32M\", size = 100 }]\n"),
              HasSubstr("node[1].home[0].size: is not a multiple of the 4 KiB page"));
}

TEST(GuestDescriptionErrors, MissingKernelFileIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = \"64M\"\nkind = \"linux\"\n"
                                      "kernel = \"/nonexistent/bzImage\"\n")),
              HasSubstr("guest.kernel: cannot use file /nonexistent/bzImage"));
}

TEST(GuestDescriptionErrors, LinuxGuestWithoutKernelIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = \"64M\"\nkind = \"linux\"\n")),
              HasSubstr("guest.kernel: required when kind = \"linux\""));
}

TEST(GuestDescriptionErrors, KernelForTestGuestIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = \"64M\"\nkernel = \"/bin/sh\"\n")),
              HasSubstr("guest.kernel: only allowed with kind = \"linux\""));
}

TEST(GuestDescriptionErrors, RdmaTransportIsNotBuilt) {
  EXPECT_THAT(error_of(with_two_nodes(std::string(kGuest) + "[transport]\nkind = \"rdma\"\n")),
              HasSubstr("transport.kind: \"rdma\" is not built into this heca"));
}

TEST(GuestDescriptionErrors, BadSizeStringIsNamed) {
  EXPECT_THAT(error_of(with_two_nodes("[guest]\nmemory = \"lots\"\n")),
              HasSubstr("guest.memory: invalid size 'lots'"));
}

}  // namespace
}  // namespace heca::vmm::cluster

// Cross-node IPIs end to end: the test guest's IPI phase (ipi=N) over three `heca node`
// processes through the real `heca run GUEST.toml`. Every ping and NMI must be handled exactly
// once, in the guest's own count and in each node's forwarded-interrupt counters.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "kernel/base/fd.h"
#include "tests/cluster_vm/guest_output.h"
#include "tests/support/loopback_ports.h"
#include "tests/support/subprocess.h"

namespace heca::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kRounds = 40;
// Short counter and memcpy phases: the IPI phase is what is under test.
const std::string kPhases = " iters=200 mbw_kib=64 mbw_reps=1";

Result<ProcessResult> run_cluster(const std::string& name, const std::string& cmdline) {
  const auto ports = ReservedPorts::for_cluster(3);
  const auto config = write_description(name, ports.base(), cmdline);
  return run_process(HECA_BINARY, {"run", config, "--timeout", "60", "--stats"}, 90s);
}

class CrossNodeIpi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  }
};

TEST_F(CrossNodeIpi, EveryPingAndNmiIsHandledExactlyOnce) {
  const std::string cmdline = "ipi=" + std::to_string(kRounds) + kPhases;

  auto result = run_cluster("heca-ipi-exact", cmdline);

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 0) << result->out << result->err;
  EXPECT_EQ(count_lines(result->out,
                        "[node 0] ipi fixed total=160 expected=160 nmi total=4 "
                        "expected=4 pongs=164 expected=164"),
            1u)
      << result->out;
  EXPECT_EQ(count_containing(result->out, " pings=40/40 nmis=1/1 rtt_us min="), 4u) << result->out;
  EXPECT_EQ(count_containing(result->out, "result: PASS"), 1u) << result->out;
}

// Node 0 forwards 3 x 40 pings, 3 NMIs and 3 wake-ups and gets 3 x 41 pongs back; nodes 1 and
// 2 get what their vCPUs are sent and send one pong per ping and NMI.
TEST_F(CrossNodeIpi, EachNodeForwardsEveryInterruptExactlyOnce) {
  const std::string cmdline = "ipi=" + std::to_string(kRounds) + kPhases;

  auto result = run_cluster("heca-ipi-links", cmdline);

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 0) << result->out << result->err;
  EXPECT_EQ(count_containing(result->err, "[node 0] heca: ipis forwarded: fixed=123/123 nmi=3/0 "),
            1u)
      << result->err;
  EXPECT_EQ(count_containing(result->err, "[node 1] heca: ipis forwarded: fixed=82/82 nmi=0/2 "),
            1u)
      << result->err;
  EXPECT_EQ(count_containing(result->err, "[node 2] heca: ipis forwarded: fixed=41/41 nmi=0/1 "),
            1u)
      << result->err;
}

TEST_F(CrossNodeIpi, ADoubledPingFailsTheGuest) {
  const std::string cmdline = "ipi=" + std::to_string(kRounds) + " fault=double_ipi" + kPhases;

  auto result = run_cluster("heca-ipi-double", cmdline);

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 1) << result->out << result->err;
  EXPECT_EQ(count_containing(result->out, "result: FAIL ipi"), 1u) << result->out;
  EXPECT_EQ(count_containing(result->out, "result: PASS"), 0u) << result->out;
}

TEST_F(CrossNodeIpi, ALostPingFailsTheGuest) {
  const std::string cmdline = "ipi=" + std::to_string(kRounds) + " fault=lost_ipi" + kPhases;

  auto result = run_cluster("heca-ipi-lost", cmdline);

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 4) << result->out << result->err;
  EXPECT_EQ(
      count_containing(result->out, "[node 0] ipi ping to cpu 4 apic 4 round 0: no answer in time"),
      1u)
      << result->out;
  EXPECT_EQ(count_containing(result->out, "result: FAIL ipi lost"), 1u) << result->out;
}

}  // namespace
}  // namespace heca::testing

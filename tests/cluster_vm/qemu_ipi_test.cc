// The test guest's IPI phase (ipi=N) on five vCPUs of QEMU TCG, booted through a PVH shim that
// lays out what heca gives the guest. No KVM needed: it checks the guest's own side (handlers,
// counters, waits, the verdict) where /dev/kvm is absent. TCG offers no x2APIC, so this runs
// the phase's xAPIC path; the x2APIC path runs in heca_multinode_ipi_kvm_test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

#include "tests/cluster_vm/guest_output.h"
#include "tests/support/subprocess.h"

namespace heca::testing {
namespace {

using namespace std::chrono_literals;

// QEMU's isa-debug-exit ends with (value << 1) | 1.
int qemu_status(int guest_code) {
  return guest_code << 1 | 1;
}

std::optional<std::string> find_qemu() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/qemu-system-x86_64";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

class IpiPhaseUnderQemu : public ::testing::Test {
 protected:
  void SetUp() override {
    qemu_ = find_qemu();
    if (!qemu_) GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  }

  // tsc_khz is a round guess (TCG reads the host TSC): it scales the printed microseconds
  // and the guest's 2 s round timeout only.
  Result<ProcessResult> run_guest(const std::string& extra) {
    const std::string cmdline = "ipi=20 iters=200 mbw_kib=64 mbw_reps=1 tsc_khz=2000000" + extra;
    return run_process(*qemu_,
                       {"-accel",
                        "tcg,thread=multi",
                        "-machine",
                        "q35",
                        "-cpu",
                        "max",
                        "-smp",
                        "5",
                        "-m",
                        "256M",
                        "-kernel",
                        HECA_QEMU_PVH_GUEST,
                        "-append",
                        cmdline,
                        "-serial",
                        "stdio",
                        "-display",
                        "none",
                        "-monitor",
                        "none",
                        "-nodefaults",
                        "-device",
                        "isa-debug-exit,iobase=0x501,iosize=1",
                        "-no-reboot"},
                       120s);
  }

  std::optional<std::string> qemu_;
};

TEST_F(IpiPhaseUnderQemu, EveryPingAndNmiIsHandledExactlyOnce) {
  auto result = run_guest("");

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, qemu_status(0)) << result->out << result->err;
  EXPECT_EQ(count_lines(result->out,
                        "ipi fixed total=80 expected=80 nmi total=4 expected=4 "
                        "pongs=84 expected=84"),
            1u)
      << result->out;
  EXPECT_EQ(count_containing(result->out, " pings=20/20 nmis=1/1 rtt_us min="), 4u) << result->out;
  EXPECT_EQ(count_containing(result->out, "result: PASS"), 1u) << result->out;
}

TEST_F(IpiPhaseUnderQemu, ADoubledPingFailsTheGuest) {
  auto result = run_guest(" fault=double_ipi");

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, qemu_status(1)) << result->out << result->err;
  EXPECT_EQ(count_containing(result->out, "result: FAIL ipi"), 1u) << result->out;
}

TEST_F(IpiPhaseUnderQemu, ALostPingFailsTheGuest) {
  auto result = run_guest(" fault=lost_ipi");

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, qemu_status(4)) << result->out << result->err;
  EXPECT_EQ(count_containing(result->out, "ipi ping to cpu 4 apic 4 round 0: no answer in time"),
            1u)
      << result->out;
}

}  // namespace
}  // namespace heca::testing

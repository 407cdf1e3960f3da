// The SMP test guest on /dev/kvm through the real `heca` binary: exact totals on 1, 2 and 4
// vCPUs, and the injected lost update is caught. Skips only where /dev/kvm cannot be opened.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/kvm.h"
#include "kernel/base/fd.h"
#include "tests/support/subprocess.h"

namespace heca::testing {
namespace {

constexpr std::chrono::seconds kHostTimeout{180};  // above heca's own --timeout 120
constexpr int kIters = 50000;

ProcessResult run_test_guest(int vcpus, const std::string& cmdline) {
  auto result = run_process(HECA_BINARY,
                            {"run", "--guest", "test", "--vcpus", std::to_string(vcpus), "--memory",
                             "64M", "--timeout", "120", "--cmdline", cmdline},
                            kHostTimeout);
  EXPECT_TRUE(result.has_value()) << result.error().message();
  return result.value_or(ProcessResult{});
}

bool has_line(const ProcessResult& result, const std::string& line) {
  const auto lines = split_lines(result.out);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string totals_line(const std::string& workload, int total, int expected) {
  return workload + " total=" + std::to_string(total) + " expected=" + std::to_string(expected);
}

// Asserts a passing run of `vcpus` vCPUs printed exact xadd and spinlock totals.
void expect_exact_totals(int vcpus) {
  const int expected = kIters * vcpus;

  const auto result = run_test_guest(vcpus, "iters=" + std::to_string(kIters));

  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_TRUE(has_line(result, totals_line("xadd", expected, expected))) << result.out;
  EXPECT_TRUE(has_line(result, totals_line("spinlock", expected, expected))) << result.out;
  EXPECT_TRUE(has_line(result, "result: PASS")) << result.out;
}

class TestGuestOnKvm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  }
};

TEST_F(TestGuestOnKvm, OneVcpuCountsExactly) {
  expect_exact_totals(1);
}

TEST_F(TestGuestOnKvm, TwoVcpusCountExactly) {
  expect_exact_totals(2);
}

TEST_F(TestGuestOnKvm, FourVcpusCountExactly) {
  expect_exact_totals(4);
}

TEST_F(TestGuestOnKvm, LostUpdateIsDetected) {
  const int expected = kIters * 2;

  const auto result = run_test_guest(2, "iters=" + std::to_string(kIters) + " fault=lost_update");

  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_TRUE(has_line(result, totals_line("xadd", expected - 1, expected))) << result.out;
}

TEST_F(TestGuestOnKvm, EveryVcpuChecksInBeforeTheWorkloads) {
  const auto result = run_test_guest(4, "iters=1000");

  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.err.find("heca: event 1 at "), std::string::npos) << result.err;
  EXPECT_TRUE(has_line(result, "cpu 3 apic 3 checked in")) << result.out;
}

// A CPU whose ring-0 stack is unusable still reports its double fault (the #DF handler has a
// stack of its own) instead of shutting down silently: exit 64 + 8, vector and RIP on the UART.
TEST_F(TestGuestOnKvm, ABrokenStackGivesAReportedDoubleFaultNotATripleFault) {
  const auto result = run_test_guest(2, "iters=1000 fault=double_fault");

  EXPECT_EQ(result.exit_code, 64 + 8) << result.out << result.err;
  EXPECT_NE(result.out.find("exception vector=8 "), std::string::npos) << result.out;
  EXPECT_EQ(result.err.find("triple fault"), std::string::npos) << result.err;
}

// --stats-json writes what the control socket's `stats` returns, at exit: one object per run
// whose vCPUs are the guest's, with the I/O exits their console and debug exit took.
TEST_F(TestGuestOnKvm, StatsJsonHoldsEveryVcpuAndItsExits) {
  const std::string path = "/tmp/heca-stats-json-test-" + std::to_string(::getpid()) + ".json";
  auto result = run_process(HECA_BINARY,
                            {"run", "--guest", "test", "--vcpus", "2", "--memory", "64M",
                             "--timeout", "120", "--cmdline", "iters=1000", "--stats-json", path},
                            kHostTimeout);
  ASSERT_TRUE(result.has_value()) << result.error().message();
  std::ifstream in(path);
  const nlohmann::json stats = nlohmann::json::parse(in, nullptr, false);
  ::unlink(path.c_str());

  EXPECT_EQ(result->exit_code, 0) << result->err;
  ASSERT_FALSE(stats.is_discarded());
  ASSERT_EQ(stats.at("vcpus").size(), 2u) << stats;
  EXPECT_EQ(stats.at("vcpus").at(1).at("index"), 1) << stats;
  EXPECT_GT(stats.at("vcpus").at(0).at("exits").at("io").get<long long>(), 0) << stats;
  EXPECT_EQ(stats.at("unclaimed_io").at("pio_writes"), 0) << stats;
}

TEST_F(TestGuestOnKvm, TimeoutStopsAGuestThatNeverFinishes) {
  auto result = run_process(HECA_BINARY,
                            {"run", "--guest", "test", "--vcpus", "2", "--memory", "64M",
                             "--timeout", "1", "--cmdline", "iters=1000000000000"},
                            kHostTimeout);
  ASSERT_TRUE(result.has_value()) << result.error().message();

  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(result->exit_code, 124) << result->err;
  EXPECT_NE(result->err.find("did not finish within 1 s"), std::string::npos) << result->err;
}

}  // namespace
}  // namespace heca::testing

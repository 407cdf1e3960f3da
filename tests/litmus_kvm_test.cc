// The litmus runner on /dev/kvm through the real `heca` binary: every shipped test shows no
// outcome x86-TSO forbids, a too-strict model (SC) is caught on SB, and bad tests exit 2.
// Skips only where /dev/kvm cannot be opened.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/kvm.h"
#include "firmware/litmus/parser.h"
#include "kernel/base/fd.h"
#include "tests/support/subprocess.h"

namespace heca::testing {
namespace {

constexpr std::chrono::seconds kHostTimeout{120};

// With more spinning vCPUs than this machine's 2 cores, a barrier waits for the host
// scheduler, so 3- and 4-thread tests get far fewer iterations.
int ci_iterations(std::size_t threads) {
  if (threads <= 2) return 10000;
  return threads == 3 ? 300 : 150;
}

std::size_t thread_count(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto test = firmware::litmus::parse_litmus(text.str());
  EXPECT_TRUE(test.has_value()) << path;
  return test ? test->threads.size() : 0;
}

ProcessResult run_litmus(const std::string& path, std::size_t vcpus, int iterations,
                         const std::string& model = "tso") {
  auto result = run_process(HECA_BINARY,
                            {"run", "--guest", "test", "--vcpus", std::to_string(vcpus), "--memory", "64M",
                             "--timeout", "90", "--litmus", path, "--iterations", std::to_string(iterations),
                             "--litmus-model", model},
                            kHostTimeout);
  EXPECT_TRUE(result.has_value()) << result.error().message();
  return result.value_or(ProcessResult{});
}

// A .litmus file written for one test, removed afterwards.
class TempLitmus {
 public:
  explicit TempLitmus(const std::string& text)
      : path_(std::filesystem::temp_directory_path() / ("heca-litmus-" + std::to_string(::getpid()) + ".litmus")) {
    std::ofstream(path_) << text;
  }
  ~TempLitmus() { std::filesystem::remove(path_); }
  TempLitmus(const TempLitmus&) = delete;
  TempLitmus& operator=(const TempLitmus&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

class LitmusOnKvm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened";
  }
};

TEST_F(LitmusOnKvm, EveryShippedTestShowsOnlyTsoAllowedOutcomes) {
  std::size_t ran = 0;

  for (const auto& entry : std::filesystem::directory_iterator(HECA_LITMUS_SUITE_DIR)) {
    if (entry.path().extension() != ".litmus") continue;
    const std::size_t threads = thread_count(entry.path());

    const auto result = run_litmus(entry.path().string(), threads, ci_iterations(threads));

    EXPECT_FALSE(result.timed_out) << entry.path();
    EXPECT_EQ(result.exit_code, 0) << entry.path() << "\n" << result.out << result.err;
    EXPECT_NE(result.out.find(": OK: every observed outcome is allowed by x86-TSO"), std::string::npos)
        << result.out;
    ++ran;
  }

  EXPECT_GE(ran, 12U);
}

// SB's store-buffering outcome shows up here 3-490 times per 100k iterations (about 20 per
// 10k on average; fewer when the host runs both vCPUs on one core), so a few 100k-iteration
// runs (well under a second each) are enough to see sequential consistency reported as violated.
TEST_F(LitmusOnKvm, TooStrictModelReportsStoreBufferingAsForbidden) {
  const std::string sb = std::string(HECA_LITMUS_SUITE_DIR) + "/SB.litmus";
  bool caught = false;

  for (int attempt = 0; attempt < 5 && !caught; ++attempt) {
    const auto result = run_litmus(sb, 2, 100000, "sc");
    ASSERT_TRUE(result.exit_code == 0 || result.exit_code == 1) << result.out << result.err;
    EXPECT_NE(result.out.find("litmus SB: 100000 iterations, SC allows 3 outcomes"), std::string::npos) << result.out;
    if (result.exit_code == 1) {
      caught = true;
      EXPECT_NE(result.out.find("FORBIDDEN  0:rax=0 1:rax=0"), std::string::npos) << result.out;
      EXPECT_NE(result.out.find("litmus SB: FAIL: "), std::string::npos) << result.out;
    }
  }

  EXPECT_TRUE(caught) << "SB never showed (0,0) in 500k iterations";
}

TEST_F(LitmusOnKvm, ANewTestFileRunsWithoutRebuilding) {
  const TempLitmus file(
      "X86 MP+mfence\n{ x=0; y=0; }\n P0 | P1 ;\n MOV [x],$1 | MOV EAX,[y] ;\n MFENCE | MFENCE ;\n"
      " MOV [y],$1 | MOV EBX,[x] ;\nexists (1:EAX=1 /\\ 1:EBX=0)\n");

  const auto result = run_litmus(file.path(), 2, 500);

  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("litmus MP+mfence: 500 iterations, x86-TSO allows 3 outcomes"), std::string::npos)
      << result.out;
}

TEST_F(LitmusOnKvm, UnsupportedTestsAndTooFewVcpusExitTwo) {
  const TempLitmus file("X86 BR\n{ x=0; }\n P0 ;\n L0: JMP L0 ;\nexists (x=0)\n");

  const auto unsupported = run_litmus(file.path(), 1, 10);
  const auto too_few = run_litmus(std::string(HECA_LITMUS_SUITE_DIR) + "/SB.litmus", 1, 10);

  EXPECT_EQ(unsupported.exit_code, 2);
  EXPECT_NE(unsupported.err.find("unsupported: "), std::string::npos) << unsupported.err;
  EXPECT_EQ(too_few.exit_code, 2);
  EXPECT_NE(too_few.err.find("2 threads need at least 2 vCPUs"), std::string::npos) << too_few.err;
}

// Several --litmus in one boot: each test runs in turn and gets its own verdict; one that
// cannot run is named and left out, and the run exits 2 since none saw a forbidden outcome.
TEST_F(LitmusOnKvm, SeveralTestsRunInOneBootEachWithItsVerdict) {
  const TempLitmus unsupported("X86 BR\n{ x=0; }\n P0 ;\n L0: JMP L0 ;\nexists (x=0)\n");
  const std::string sb = std::string(HECA_LITMUS_SUITE_DIR) + "/SB.litmus";
  const std::string mp = std::string(HECA_LITMUS_SUITE_DIR) + "/MP.litmus";

  auto result = run_process(HECA_BINARY,
                            {"run", "--guest", "test", "--vcpus", "2", "--memory", "64M", "--timeout",
                             "90", "--litmus", sb, "--litmus", unsupported.path(), "--litmus", mp,
                             "--iterations", "200"},
                            kHostTimeout);

  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->exit_code, 2) << result->out << result->err;
  EXPECT_NE(result->err.find("heca: litmus refused: " + unsupported.path() + ": unsupported: "),
            std::string::npos)
      << result->err;
  for (const std::string name : {"SB", "MP"}) {
    EXPECT_NE(result->out.find("litmus " + name + ": 200 iterations"), std::string::npos) << result->out;
    EXPECT_NE(result->out.find("litmus " + name + ": OK: "), std::string::npos) << result->out;
  }
  EXPECT_EQ(result->out.find("litmus BR:"), std::string::npos) << result->out;
}

}  // namespace
}  // namespace heca::testing

// judge_litmus() on a blob filled in as the guest would: the histogram beside the allowed
// set, exit 0 when every outcome is allowed and 1 (naming it) when one is forbidden.
#include "firmware/litmus/session.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace heca::firmware::litmus {
namespace {

const char* kMp =
    "X86 MP\n{ x=0; y=0; }\n P0 | P1 ;\n MOV [x],$1 | MOV EAX,[y] ;\n MOV [y],$1 | MOV EBX,[x] ;\n"
    "exists (1:EAX=1 /\\ 1:EBX=0)\n";

LitmusSetup prepare(const std::string& text, MemoryModel model = MemoryModel::kTso) {
  const auto path = std::filesystem::temp_directory_path() / "heca-session-test.litmus";
  std::ofstream(path) << text;
  const std::vector<std::uint32_t> two_nodes = {0, 1};
  auto setup = prepare_litmus(path.string(), 3, model, two_nodes);
  std::filesystem::remove(path);
  EXPECT_TRUE(setup.has_value()) << setup.error().message();
  return setup ? std::move(*setup) : LitmusSetup{};
}

// The blob as the guest leaves it after recording `outcomes` once each.
std::vector<std::uint8_t> guest_result(const LitmusSetup& setup, const std::vector<Outcome>& outcomes) {
  std::vector<std::uint8_t> bytes = setup.blob.bytes;
  abi::BlobHeader header{};
  std::memcpy(&header, bytes.data(), sizeof header);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    abi::HistogramEntry entry{.count = 1, .values = {}};
    std::copy(outcomes[i].begin(), outcomes[i].end(), entry.values);
    std::memcpy(bytes.data() + (header.histogram_addr - header.blob_addr) + i * sizeof entry, &entry, sizeof entry);
  }
  header.completed_iterations = outcomes.size();
  header.done = abi::kBlobDone;
  std::memcpy(bytes.data(), &header, sizeof header);
  return bytes;
}

bool has_line(const LitmusVerdict& verdict, const std::string& line) {
  return std::find(verdict.lines.begin(), verdict.lines.end(), line) != verdict.lines.end();
}

TEST(LitmusSession, AllowedOutcomesPassAndUnseenOnesAreListed) {
  const auto setup = prepare(kMp);

  auto verdict = judge_litmus(setup, guest_result(setup, {{0, 0}, {1, 1}, {0, 1}}));

  ASSERT_TRUE(verdict.has_value()) << verdict.error().message();
  EXPECT_EQ(verdict->exit_code, kLitmusAllAllowed);
  EXPECT_TRUE(has_line(*verdict, "litmus MP: 3 iterations, x86-TSO allows 3 outcomes"));
  EXPECT_TRUE(has_line(*verdict, "           1  allowed    1:EAX=1 1:EBX=1"));
  EXPECT_TRUE(has_line(*verdict, "litmus MP: thread 0 on vCPU 0 (node 0), thread 1 on vCPU 1 (node 1)"));
  EXPECT_TRUE(has_line(*verdict, "litmus MP: coverage: saw 3 of the 3 allowed outcomes; 0 of the 0 that only a relaxed order gives"));
  EXPECT_TRUE(has_line(*verdict, "litmus MP: the model says the exists clause does not hold"));
  EXPECT_TRUE(has_line(*verdict, "litmus MP: OK: every observed outcome is allowed by x86-TSO"));
}

TEST(LitmusSession, AForbiddenOutcomeFailsWhateverTheExistsClauseSays) {
  const auto setup = prepare(kMp);

  auto verdict = judge_litmus(setup, guest_result(setup, {{0, 0}, {1, 0}}));

  ASSERT_TRUE(verdict.has_value()) << verdict.error().message();
  EXPECT_EQ(verdict->exit_code, kLitmusForbiddenSeen);
  EXPECT_TRUE(has_line(*verdict, "           1  FORBIDDEN  1:EAX=1 1:EBX=0"));
  EXPECT_TRUE(has_line(*verdict, "litmus MP: FAIL: 1 iterations ended in an outcome x86-TSO forbids"));
}

abi::BlobHeader header_of(const LitmusSetup& setup) {
  abi::BlobHeader header{};
  std::memcpy(&header, setup.blob.bytes.data(), sizeof header);
  return header;
}

TEST(LitmusSession, ThreadsOnSeveralNodesStartAtASharedTime) {
  const auto setup = prepare(kMp);  // one vCPU on each of two nodes

  EXPECT_EQ(header_of(setup).timed_start, 1U);
  EXPECT_EQ(setup.placement_warning, "");
}

TEST(LitmusSession, ThreadsOnOneNodeKeepTheShortRandomSpin) {
  const auto path = std::filesystem::temp_directory_path() / "heca-session-test-1.litmus";
  std::ofstream(path) << kMp;
  const std::vector<std::uint32_t> one_node = {0, 0};

  auto setup = prepare_litmus(path.string(), 3, MemoryModel::kTso, one_node);
  std::filesystem::remove(path);

  ASSERT_TRUE(setup.has_value()) << setup.error().message();
  EXPECT_EQ(header_of(*setup).timed_start, 0U);
}

TEST(LitmusSession, RefusesTestsThatNeedMoreVcpus) {
  const auto path = std::filesystem::temp_directory_path() / "heca-session-test-3.litmus";
  std::ofstream(path) << "X86 T3\n{ x=0; }\n P0 | P1 | P2 ;\n MFENCE | MFENCE | MFENCE ;\nexists (x=0)\n";

  const std::vector<std::uint32_t> two_vcpus = {0, 0};

  auto setup = prepare_litmus(path.string(), 10, MemoryModel::kTso, two_vcpus);
  std::filesystem::remove(path);

  ASSERT_FALSE(setup.has_value());
  EXPECT_NE(setup.error().message().find("3 threads need at least 3 vCPUs (the guest has 2)"), std::string::npos);
}

TEST(LitmusSession, NamesTheFileThatCannotBeRead) {
  const std::vector<std::uint32_t> two_vcpus = {0, 0};

  auto setup = prepare_litmus("/nonexistent/x.litmus", 10, MemoryModel::kTso, two_vcpus);

  ASSERT_FALSE(setup.has_value());
  EXPECT_NE(setup.error().message().find("cannot open litmus file '/nonexistent/x.litmus'"), std::string::npos);
}

// Several tests in one boot: blobs back to back from the default address, each header naming
// the next, the last naming none; a test that cannot run is left out with its reason.
TEST(LitmusRunOfSeveral, ChainsTheBlobsAndLeavesOutWhatCannotRun) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto mp = dir / "heca-run-test-mp.litmus";
  const auto three = dir / "heca-run-test-3.litmus";
  std::ofstream(mp) << kMp;
  std::ofstream(three) << "X86 T3\n{ x=0; }\n P0 | P1 | P2 ;\n MFENCE | MFENCE | MFENCE ;\nexists (x=0)\n";
  const std::vector<std::string> paths = {mp.string(), three.string(), mp.string()};
  const std::vector<std::uint32_t> two_nodes = {0, 1};

  auto run = prepare_litmus_run(paths, 5, "tso", two_nodes, 256 << 20);
  std::filesystem::remove(mp);
  std::filesystem::remove(three);

  ASSERT_TRUE(run.has_value()) << run.error().message();
  ASSERT_EQ(run->tests.size(), 2u);
  ASSERT_EQ(run->refused.size(), 1u);
  EXPECT_NE(run->refused[0].find("3 threads need at least 3 vCPUs"), std::string::npos) << run->refused[0];
  const auto& first = run->tests[0].blob;
  const auto& second = run->tests[1].blob;
  EXPECT_EQ(first.gpa, abi::kDefaultBlobGpa);
  EXPECT_EQ(second.gpa, first.gpa + first.bytes.size());
  abi::BlobHeader h0{};
  abi::BlobHeader h1{};
  std::memcpy(&h0, first.bytes.data(), sizeof h0);
  std::memcpy(&h1, second.bytes.data(), sizeof h1);
  EXPECT_EQ(h0.next_blob, second.gpa);
  EXPECT_EQ(h1.next_blob, 0u);
  EXPECT_EQ(h1.blob_addr, second.gpa);
  EXPECT_EQ(run->cmdline_key, fmt::format(" litmus={:#x}", first.gpa));
}

TEST(LitmusRunOfSeveral, RefusesBlobsThatDoNotFitInGuestRam) {
  const auto mp = std::filesystem::temp_directory_path() / "heca-run-test-ram.litmus";
  std::ofstream(mp) << kMp;
  const std::vector<std::string> paths(8, mp.string());
  const std::vector<std::uint32_t> two_nodes = {0, 1};

  auto run = prepare_litmus_run(paths, 5, "tso", two_nodes, abi::kDefaultBlobGpa + (1 << 20));
  std::filesystem::remove(mp);

  ASSERT_FALSE(run.has_value());
  EXPECT_NE(run.error().message().find("8 litmus tests need guest RAM up to"), std::string::npos)
      << run.error().message();
}

TEST(LitmusRunOfSeveral, OneTestThatCannotRunIsAnErrorAsBefore) {
  const std::vector<std::string> paths = {"/nonexistent/x.litmus"};
  const std::vector<std::uint32_t> two_nodes = {0, 1};

  auto run = prepare_litmus_run(paths, 5, "tso", two_nodes, 256 << 20);

  ASSERT_FALSE(run.has_value());
  EXPECT_NE(run.error().message().find("cannot open litmus file"), std::string::npos);
}

TEST(LitmusRunOfSeveral, AForbiddenOutcomeOutranksARefusedTest) {
  const std::vector<int> clean = {kLitmusAllAllowed, kLitmusAllAllowed};
  const std::vector<int> forbidden = {kLitmusAllAllowed, kLitmusForbiddenSeen};

  EXPECT_EQ(run_exit_code(clean, 0), kLitmusAllAllowed);
  EXPECT_EQ(run_exit_code(clean, 1), kLitmusBadTest);
  EXPECT_EQ(run_exit_code(forbidden, 1), kLitmusForbiddenSeen);
}

}  // namespace
}  // namespace heca::firmware::litmus

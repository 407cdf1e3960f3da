#include "firmware/litmus/cycle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "firmware/litmus/model.h"
#include "firmware/litmus/parser.h"

namespace heca::firmware::litmus {
namespace {

LitmusTest build(std::string_view cycle, std::string name = "T") {
  auto test = test_from_cycle(cycle, std::move(name));
  EXPECT_TRUE(test.has_value()) << test.error().message();
  return test.value_or(LitmusTest{});
}

std::string error_of(std::string_view cycle) {
  auto test = test_from_cycle(cycle, "T");
  return test.has_value() ? "(built)" : test.error().what;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

LitmusTest shipped(const std::string& name) {
  std::ifstream in(std::filesystem::path(HECA_LITMUS_SUITE_DIR) / (name + ".litmus"));
  std::stringstream text;
  text << in.rdbuf();
  auto test = parse_litmus(text.str());
  EXPECT_TRUE(test.has_value()) << name << ": " << test.error().message();
  return test.value_or(LitmusTest{});
}

// Whether x86-TSO lets the test's `exists` clause (or whatever its quantifier says) hold.
bool tso_holds(const LitmusTest& test) {
  return condition_holds(test, allowed_outcomes(test));
}

bool same_expr(const Expr& a, const Expr& b) {
  return a.kind == b.kind && a.var == b.var && a.value == b.value &&
         std::equal(a.kids.begin(), a.kids.end(), b.kids.begin(), b.kids.end(), same_expr);
}

bool same_instruction(const Instruction& a, const Instruction& b) {  // the source line aside
  return a.kind == b.kind && a.loc == b.loc && a.reg == b.reg && a.has_imm == b.has_imm &&
         a.imm == b.imm;
}

bool same_thread(const Thread& a, const Thread& b) {
  return std::equal(a.code.begin(), a.code.end(), b.code.begin(), b.code.end(), same_instruction) &&
         a.reg_init == b.reg_init && a.holds_address == b.holds_address;
}

bool same_test(const LitmusTest& a, const LitmusTest& b) {
  const auto same_location = [](const Location& l, const Location& r) {
    return l.name == r.name && l.init == r.init;
  };
  return a.dialect == b.dialect && a.name == b.name && a.quantifier == b.quantifier &&
         std::equal(a.locations.begin(), a.locations.end(), b.locations.begin(), b.locations.end(),
                    same_location) &&
         std::equal(a.threads.begin(), a.threads.end(), b.threads.begin(), b.threads.end(),
                    same_thread) &&
         same_expr(a.condition, b.condition);
}

// What format_litmus() promises to keep: everything but the dialect and address registers.
LitmusTest as_x86(LitmusTest test) {
  test.dialect = Dialect::kX86;
  for (auto& thread : test.threads) thread.holds_address = {};
  return test;
}

// The cycles of `seed` whose test does not come back unchanged from its own text.
std::vector<std::string> round_trip_failures(std::uint64_t seed) {
  std::vector<std::string> failures;
  for (const auto& cycle : random_cycles(seed, 25, kMaxThreads)) {
    const auto test = test_from_cycle(cycle, "gen");
    const auto parsed =
        test ? parse_litmus(format_litmus(*test, cycle)) : std::unexpected(test.error());
    if (!parsed || !same_test(*test, *parsed)) failures.push_back(cycle);
  }
  return failures;
}

std::vector<std::string> unbuildable(const std::vector<std::string>& cycles) {
  std::vector<std::string> errors;
  for (const auto& cycle : cycles) {
    if (auto test = test_from_cycle(cycle, "gen"); !test) errors.push_back(test.error().message());
  }
  return errors;
}

std::set<std::size_t> thread_counts(const std::vector<std::string>& cycles) {
  std::set<std::size_t> counts;
  for (const auto& cycle : cycles) counts.insert(build(cycle).threads.size());
  return counts;
}

std::set<bool> tso_verdicts(const std::vector<std::string>& cycles) {
  std::set<bool> verdicts;
  for (const auto& cycle : cycles) verdicts.insert(tso_holds(build(cycle)));
  return verdicts;
}

// The shipped suite files whose parse does not survive format_litmus() and a second parse.
std::vector<std::string> shipped_round_trip_failures() {
  std::vector<std::string> failures;
  for (const auto& entry : std::filesystem::directory_iterator(HECA_LITMUS_SUITE_DIR)) {
    const std::string name = entry.path().stem().string();
    const LitmusTest test = as_x86(shipped(name));
    const auto parsed = parse_litmus(format_litmus(test, "no cycle"));
    if (!parsed || !same_test(test, *parsed)) failures.push_back(name);
  }
  return failures;
}

TEST(TestFromCycle, FrePodWrTwiceIsStoreBuffering) {
  const std::string expected =
      "X86 SB\n"
      "\"Fre PodWR Fre PodWR\"\n"
      "{ x=0; y=0; }\n"
      " P0          | P1          ;\n"
      " MOV [y],$1  | MOV [x],$1  ;\n"
      " MOV EAX,[x] | MOV EAX,[y] ;\n"
      "exists (0:EAX=0 /\\ 1:EAX=0)\n";

  const LitmusTest test = build("Fre PodWR Fre PodWR", "SB");

  EXPECT_EQ(test.threads.size(), 2U);
  EXPECT_EQ(test.locations.size(), 2U);
  EXPECT_EQ(format_litmus(test, "Fre PodWR Fre PodWR"), expected);
}

TEST(TestFromCycle, StoreBufferingIsAllowedUnderTso) {
  const LitmusTest test = build("Fre PodWR Fre PodWR");

  EXPECT_TRUE(tso_holds(test));
}

TEST(TestFromCycle, MessagePassingIsForbiddenWithTheShippedOutcomes) {
  const LitmusTest reference = shipped("MP");

  const LitmusTest test = build("Rfe PodRR Fre PodWW");

  EXPECT_FALSE(tso_holds(test));
  EXPECT_EQ(allowed_outcomes(test), allowed_outcomes(reference));
}

TEST(TestFromCycle, IriwIsForbiddenWithTheShippedOutcomes) {
  const LitmusTest reference = shipped("IRIW");

  const LitmusTest test = build("Rfe PodRR Fre Rfe PodRR Fre");

  EXPECT_EQ(test.threads.size(), 4U);
  EXPECT_FALSE(tso_holds(test));
  EXPECT_EQ(allowed_outcomes(test), allowed_outcomes(reference));
}

TEST(TestFromCycle, TwoPlusTwoWritesPinsTheFinalValues) {
  const std::string expected =
      "X86 2+2W\n"
      "\"Wse PodWW Wse PodWW\"\n"
      "{ x=0; y=0; }\n"
      " P0         | P1         ;\n"
      " MOV [y],$2 | MOV [x],$2 ;\n"
      " MOV [x],$1 | MOV [y],$1 ;\n"
      "exists (x=2 /\\ y=2)\n";

  const LitmusTest test = build("Wse PodWW Wse PodWW", "2+2W");

  EXPECT_EQ(format_litmus(test, "Wse PodWW Wse PodWW"), expected);
  EXPECT_FALSE(tso_holds(test));
  EXPECT_EQ(tso_holds(test), tso_holds(shipped("2+2W")));
}

TEST(TestFromCycle, CoeIsWse) {
  const LitmusTest test = build("Coe PodWW Coe PodWW", "2+2W");

  EXPECT_EQ(format_litmus(test, "Wse PodWW Wse PodWW"),
            format_litmus(build("Wse PodWW Wse PodWW", "2+2W"), "Wse PodWW Wse PodWW"));
}

TEST(TestFromCycle, MfencedEdgesGiveTheShippedSbWithMfences) {
  const LitmusTest reference = shipped("SB+mfences");

  const LitmusTest test = build("MFencedWR Fre MFencedWR Fre");

  EXPECT_EQ(test.threads[0].code.size(), 3U);
  EXPECT_EQ(test.threads[0].code[1].kind, OpKind::kMfence);
  EXPECT_FALSE(tso_holds(test));
  EXPECT_EQ(allowed_outcomes(test), allowed_outcomes(reference));
}

TEST(TestFromCycle, RfiReadsTheOwnWriteEarlyUnderTso) {
  const LitmusTest test = build("Rfi PodRR Fre Rfi PodRR Fre");

  EXPECT_EQ(test.threads.size(), 2U);
  EXPECT_TRUE(tso_holds(test));
}

TEST(TestFromCycle, ThreeThreadCycleWrcIsForbidden) {
  const LitmusTest test = build("Rfe PodRW Rfe PodRR Fre");

  EXPECT_EQ(test.threads.size(), 3U);
  EXPECT_FALSE(tso_holds(test));
  EXPECT_EQ(tso_holds(test), tso_holds(shipped("WRC")));
}

TEST(TestFromCycle, RejectsAnUnknownEdge) {
  EXPECT_TRUE(contains(error_of("Rfe PodRX Fre PodWW"), "unknown edge 'PodRX' (edge 2)"));
}

TEST(TestFromCycle, RejectsKindsThatDoNotChain) {
  EXPECT_TRUE(
      contains(error_of("Rfe Rfe"),
               "edge 2 'Rfe' starts at a write, but edge 1 'Rfe' before it ends at a read"));
}

TEST(TestFromCycle, RejectsMoreThanFourThreads) {
  const std::string error = error_of("Wse PodWW Wse PodWW Wse PodWW Wse PodWW Wse PodWW");

  EXPECT_TRUE(contains(error, "edge 9 'Wse' starts thread 5")) << error;
}

TEST(TestFromCycle, RejectsACycleWithoutExternalEdge) {
  EXPECT_TRUE(contains(error_of("PodWR PodRW"), "no external edge"));
}

TEST(TestFromCycle, RejectsASingleExternalEdge) {
  EXPECT_TRUE(contains(error_of("Rfe PodRW PodWW"), "edge 1 'Rfe' is the only external edge"));
}

TEST(TestFromCycle, RejectsASingleLocationChange) {
  EXPECT_TRUE(
      contains(error_of("Rfe PodRR Fre"), "edge 2 'PodRR' is the only edge that changes location"));
}

TEST(TestFromCycle, RejectsMoreReadsThanRegisters) {
  const std::string error = error_of("PodRR PodRR PodRR PodRR PodRR PodRR Fre PodWW Rfe");

  EXPECT_TRUE(contains(error, "edge 6 'PodRR' leads to read 7 of thread 0")) << error;
}

TEST(TestFromCycle, RejectsAnInvalidTestName) {
  const auto test = test_from_cycle("Fre PodWR Fre PodWR", "S B");

  EXPECT_FALSE(test.has_value());
}

TEST(FormatLitmus, GeneratedTestsParseBackUnchanged) {
  EXPECT_EQ(round_trip_failures(1), std::vector<std::string>{});
  EXPECT_EQ(round_trip_failures(2), std::vector<std::string>{});
  EXPECT_EQ(round_trip_failures(42), std::vector<std::string>{});
  EXPECT_EQ(round_trip_failures(20240601), std::vector<std::string>{});
}

TEST(FormatLitmus, ShippedTestsParseBackUnchanged) {
  EXPECT_EQ(shipped_round_trip_failures(), std::vector<std::string>{});
}

TEST(RandomCycles, SameSeedSameCycles) {
  EXPECT_EQ(random_cycles(7, 30, 4), random_cycles(7, 30, 4));
  EXPECT_NE(random_cycles(7, 30, 4), random_cycles(8, 30, 4));
}

TEST(RandomCycles, SeedOneGivesTheSameCyclesOnEveryMachine) {
  const std::vector<std::string> expected = {
      "PodWR Fre PodWR Fre PodWR PodRR Fre MFencedWW PodWR Fre",
      "PodWW Wse PodWW Rfe MFencedRW Wse",
      "PodRW Rfe PodRR PodRR Fre MFencedWW Wse MFencedWW Rfe",
  };

  EXPECT_EQ(random_cycles(1, 3, 4), expected);
}

TEST(RandomCycles, ReturnsDistinctCyclesThatAllBuild) {
  const auto cycles = random_cycles(3, 60, 4);

  EXPECT_EQ(cycles.size(), 60U);
  EXPECT_EQ(std::set<std::string>(cycles.begin(), cycles.end()).size(), 60U);
  EXPECT_EQ(unbuildable(cycles), std::vector<std::string>{});
}

TEST(RandomCycles, ThreadCountsSpanTwoToMaxThreads) {
  EXPECT_EQ(thread_counts(random_cycles(5, 40, 3)), (std::set<std::size_t>{2, 3}));
}

TEST(RandomCycles, DrawsBothTsoAllowedAndTsoForbiddenCycles) {
  EXPECT_EQ(tso_verdicts(random_cycles(11, 20, 3)), (std::set<bool>{false, true}));
}

}  // namespace
}  // namespace heca::firmware::litmus

#include "firmware/litmus/model.h"

#include <gtest/gtest.h>

#include <string>

#include "firmware/litmus/parser.h"

namespace heca::firmware::litmus {
namespace {

LitmusTest parse(const std::string& text) {
  auto test = parse_litmus(text);
  EXPECT_TRUE(test.has_value()) << test.error().message();
  return test.value_or(LitmusTest{});
}

bool allows(const std::string& text, const Outcome& outcome, MemoryModel model = MemoryModel::kTso) {
  const auto test = parse(text);
  return allowed_outcomes(test, model).contains(outcome);
}

constexpr const char* kSb =
    "X86 SB\n{ x=0; y=0; }\n P0 | P1 ;\n MOV [x],$1 | MOV [y],$1 ;\n MOV EAX,[y] | MOV EAX,[x] ;\n"
    "exists (0:EAX=0 /\\ 1:EAX=0)\n";

TEST(TsoModel, StoreBufferingAllowsBothLoadsToMissTheStores) {
  EXPECT_TRUE(allows(kSb, {0, 0}));
  EXPECT_TRUE(allows(kSb, {1, 1}));
  EXPECT_TRUE(allows(kSb, {0, 1}));
}

TEST(TsoModel, MfencesForbidStoreBuffering) {
  const std::string text =
      "X86 SB+mfences\n{ x=0; y=0; }\n P0 | P1 ;\n MOV [x],$1 | MOV [y],$1 ;\n MFENCE | MFENCE ;\n"
      " MOV EAX,[y] | MOV EAX,[x] ;\nexists (0:EAX=0 /\\ 1:EAX=0)\n";

  const auto allowed = allowed_outcomes(parse(text));

  EXPECT_FALSE(allowed.contains({0, 0}));
  EXPECT_EQ(allowed.size(), 3U);
}

TEST(TsoModel, SequentialConsistencyForbidsStoreBuffering) {
  EXPECT_FALSE(allows(kSb, {0, 0}, MemoryModel::kSc));
  EXPECT_TRUE(allows(kSb, {1, 0}, MemoryModel::kSc));
}

TEST(TsoModel, MessagePassingForbidsSeeingTheFlagButNotTheData) {
  const std::string text =
      "X86 MP\n{ x=0; y=0; }\n P0 | P1 ;\n MOV [x],$1 | MOV EAX,[y] ;\n MOV [y],$1 | MOV EBX,[x] ;\n"
      "exists (1:EAX=1 /\\ 1:EBX=0)\n";

  EXPECT_FALSE(allows(text, {1, 0}));
  EXPECT_TRUE(allows(text, {0, 1}));
}

TEST(TsoModel, LoadBufferingIsForbidden) {
  const std::string text =
      "X86 LB\n{ x=0; y=0; }\n P0 | P1 ;\n MOV EAX,[x] | MOV EAX,[y] ;\n MOV [y],$1 | MOV [x],$1 ;\n"
      "exists (0:EAX=1 /\\ 1:EAX=1)\n";

  EXPECT_FALSE(allows(text, {1, 1}));
  EXPECT_TRUE(allows(text, {0, 1}));
}

TEST(TsoModel, LoadsForwardFromTheOwnStoreBuffer) {
  const std::string text =
      "X86 FWD\n{ x=0; }\n P0 | P1 ;\n MOV [x],$1 | MOV [x],$2 ;\n MOV EAX,[x] | MFENCE ;\n"
      "exists (0:EAX=2 /\\ x=1)\n";

  EXPECT_FALSE(allows(text, {2, 1}));  // P0 reads 2 only after its own 1 reached memory
  EXPECT_TRUE(allows(text, {1, 2}));
  EXPECT_TRUE(allows(text, {2, 2}));
}

TEST(TsoModel, TwoLockXaddsNeverReturnTheSameValue) {
  const std::string text =
      "X86_64 XADD\n{ x=0; 0:rax=1; 1:rax=1; }\n P0 | P1 ;\n lock xaddq %rax,(x) | lock xaddq %rax,(x) ;\n"
      "exists (0:rax=0 /\\ 1:rax=0 /\\ x=2)\n";

  const auto allowed = allowed_outcomes(parse(text));

  EXPECT_EQ(allowed, (OutcomeSet{{0, 1, 2}, {1, 0, 2}}));
}

TEST(TsoModel, ObservesLoadedRegistersAndLocationsWhenTheConditionNamesNone) {
  const auto test = parse("X86 T\n{ x=0; }\n P0 | P1 ;\n MOV [x],$1 | MOV EAX,[x] ;\nexists (true)\n");

  const auto vars = observed_vars(test);

  ASSERT_EQ(vars.size(), 2U);
  EXPECT_EQ(format_outcome(test, vars, {1, 1}), "1:EAX=1 x=1");
  EXPECT_EQ(allowed_outcomes(test), (OutcomeSet{{0, 1}, {1, 1}}));
}

}  // namespace
}  // namespace heca::firmware::litmus

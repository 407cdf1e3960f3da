// Every shipped .litmus file parses, and the x86-TSO model gives its textbook verdict.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "firmware/litmus/model.h"
#include "firmware/litmus/parser.h"

namespace heca::firmware::litmus {
namespace {

// Whether each test's quantified condition holds under x86-TSO.
const std::map<std::string, bool>& expected_verdicts() {
  static const std::map<std::string, bool> verdicts = {
      {"MP", false},          {"SB", true},           {"SB+mfences", false}, {"LB", false},
      {"S", false},           {"R", true},            {"2+2W", false},       {"WRC", false},
      {"IRIW", false},        {"RWC", true},          {"XADD-pair", false},  {"SB+xchgs", false},
      {"CMPXCHG-race", true}, {"SB+lockadds", true},
  };
  return verdicts;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(LitmusSuite, EveryShippedTestHasTheTextbookTsoVerdict) {
  std::size_t checked = 0;

  for (const auto& entry : std::filesystem::directory_iterator(HECA_LITMUS_SUITE_DIR)) {
    if (entry.path().extension() != ".litmus") continue;
    auto test = parse_litmus(read_text(entry.path()));
    ASSERT_TRUE(test.has_value()) << entry.path() << ": " << test.error().message();
    const auto expected = expected_verdicts().find(test->name);
    ASSERT_NE(expected, expected_verdicts().end()) << "no expected verdict for " << test->name;

    EXPECT_EQ(condition_holds(*test, allowed_outcomes(*test)), expected->second) << test->name;
    ++checked;
  }

  EXPECT_EQ(checked, expected_verdicts().size());
}

TEST(LitmusSuite, ScForbidsWhatTsoAddsToSbAndRwc) {
  for (const char* name : {"SB", "R", "RWC"}) {
    auto test = parse_litmus(read_text(std::filesystem::path(HECA_LITMUS_SUITE_DIR) / (std::string(name) + ".litmus")));
    ASSERT_TRUE(test.has_value()) << name;

    EXPECT_FALSE(condition_holds(*test, allowed_outcomes(*test, MemoryModel::kSc))) << name;
  }
}

}  // namespace
}  // namespace heca::firmware::litmus

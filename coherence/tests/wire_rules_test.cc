// The one field table of every message family: family ranges, and each kind of field rule
// refusing what it must, named in the error.
#include "coherence/wire_rules.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace heca::coherence::wire {
namespace {

constexpr std::array<TypeRule, 2> kTestRules = {{
    {0x50, "first", bits(0x3), at_most(0xFF, "page (vector)"), zero(), lengths({0, 4})},
    {0x51, "second", zero(), page_index(), any(), lengths({0})},
}};

std::string error_of(const Header& header, const FrameContext& context = {}) {
  auto rule = check_frame(Family::kLink, kTestRules, header, context);
  return rule ? std::string("accepted ") + std::string((*rule)->name) : rule.error().what;
}

TEST(WireRules, FamilyRangesAreDisjointAndInOrder) {
  for (std::size_t i = 1; i < kFamilyRanges.size(); ++i) {
    EXPECT_GT(kFamilyRanges[i].first, kFamilyRanges[i - 1].last) << kFamilyRanges[i].name;
  }
}

TEST(WireRules, EveryTypeBelongsToAtMostOneFamily) {
  EXPECT_EQ(family_of(0x00), std::nullopt);
  EXPECT_EQ(family_of(0x01), Family::kCoherence);
  EXPECT_EQ(family_of(0x40), Family::kIo);
  EXPECT_EQ(family_of(0x46), std::nullopt);
  EXPECT_EQ(family_of(0x53), Family::kLink);
  EXPECT_EQ(family_of(0x61), Family::kHandshake);
  EXPECT_EQ(family_of(0xFF), std::nullopt);
}

TEST(WireRules, AFrameThatObeysItsRuleIsAccepted) {
  const Header h{.type = 0x50, .flags = 0x3, .payload_length = 4, .page = 0xFF};

  EXPECT_EQ(error_of(h), "accepted first");
}

TEST(WireRules, ATypeOfAnotherFamilyIsUnknownHere) {
  EXPECT_EQ(error_of(Header{.type = 0x01}), "unknown link message type 1 (0x1)");
}

TEST(WireRules, ATypeInTheRangeWithoutARuleIsUnknown) {
  EXPECT_EQ(error_of(Header{.type = 0x52}), "unknown link message type 82 (0x52)");
}

TEST(WireRules, EachRuleKindNamesTheFieldAndTheValue) {
  EXPECT_EQ(error_of(Header{.type = 0x50, .flags = 0x4}),
            "malformed link message (first, type 0x50): unknown flags 4 (allowed bits 0x3)");
  EXPECT_EQ(error_of(Header{.type = 0x50, .page = 0x100}),
            "malformed link message (first, type 0x50): page (vector) 0x100 is above 0xff");
  EXPECT_EQ(error_of(Header{.type = 0x50, .request_id = 9}),
            "malformed link message (first, type 0x50): request_id is 0x9, must be 0");
  EXPECT_EQ(error_of(Header{.type = 0x51, .page = 16}, {.page_count = 16}),
            "malformed link message (second, type 0x51): page 16 out of range (16 pages)");
}

TEST(WireRules, PayloadLengthAndBytesMustMatchTheRule) {
  const std::array<std::uint8_t, 2> two{};

  EXPECT_EQ(error_of(Header{.type = 0x50, .payload_length = 2}),
            "malformed link message (first, type 0x50): bad size: it carries 2 payload bytes "
            "(allowed: 0, 4)");
  EXPECT_EQ(error_of(Header{.type = 0x50, .payload_length = 4}, {.payload = two}),
            "malformed link message (first, type 0x50): payload of 2 bytes, header says 4");
}

TEST(WireRules, ASenderOtherThanThePeerIsRefused) {
  EXPECT_EQ(error_of(Header{.type = 0x51, .sender = 2}, {.page_count = 1, .from = 3}),
            "malformed link message (second, type 0x51): sender 2 on the link from node 3");
}

}  // namespace
}  // namespace heca::coherence::wire

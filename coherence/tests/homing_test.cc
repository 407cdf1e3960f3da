#include "coherence/homing.h"

#include <gtest/gtest.h>

namespace heca::coherence {
namespace {

TEST(HomeMap, EvenRangesSpreadPagesContiguously) {
  const HomeMap map = HomeMap::even_ranges(10, 3);

  EXPECT_EQ(map.home_of(0), 0);
  EXPECT_EQ(map.home_of(2), 0);
  EXPECT_EQ(map.home_of(3), 1);
  EXPECT_EQ(map.home_of(6), 2);
  EXPECT_EQ(map.home_of(9), 2);
}

TEST(HomeMap, MoreNodesThanPagesStillHomesEveryPage) {
  const HomeMap map = HomeMap::even_ranges(2, 4);

  EXPECT_EQ(map.home_of(0), 1);
  EXPECT_EQ(map.home_of(1), 3);
}

TEST(HomeMap, InterleaveDealsBlocksRoundRobin) {
  const HomeMap map = HomeMap::interleave(16, 3, 2);

  EXPECT_EQ(map.home_of(0), 0);
  EXPECT_EQ(map.home_of(1), 0);
  EXPECT_EQ(map.home_of(2), 1);
  EXPECT_EQ(map.home_of(5), 2);
  EXPECT_EQ(map.home_of(6), 0);
}

TEST(HomeMap, ExplicitRangesAreHonoured) {
  const auto map = HomeMap::from_ranges(8, 2, {{0, 6, 1}, {6, 2, 0}});

  ASSERT_TRUE(map.has_value()) << map.error().what;
  EXPECT_EQ(map->home_of(5), 1);
  EXPECT_EQ(map->home_of(6), 0);
}

TEST(HomeMap, ExplicitRangesWithAGapAreRejected) {
  const auto map = HomeMap::from_ranges(8, 2, {{0, 4, 1}, {5, 3, 0}});

  ASSERT_FALSE(map.has_value());
  EXPECT_EQ(map.error().what, "home ranges must be contiguous and non-empty at page 5");
}

TEST(HomeMap, ExplicitRangesNamingAnUnknownNodeAreRejected) {
  EXPECT_FALSE(HomeMap::from_ranges(8, 2, {{0, 8, 2}}).has_value());
}

TEST(HomeMap, ExplicitRangesMustCoverTheRegion) {
  EXPECT_FALSE(HomeMap::from_ranges(8, 2, {{0, 4, 1}}).has_value());
}

}  // namespace
}  // namespace heca::coherence

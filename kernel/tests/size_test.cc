#include <gtest/gtest.h>

#include "kernel/base/size.h"

namespace heca {
namespace {

TEST(ParseSize, AcceptsBinarySuffixes) {
  EXPECT_EQ(parse_size("256M").value(), 256ULL << 20);
  EXPECT_EQ(parse_size("1G").value(), 1ULL << 30);
  EXPECT_EQ(parse_size("4096K").value(), 4096ULL << 10);
}

TEST(ParseSize, AcceptsRawBytes) {
  EXPECT_EQ(parse_size("1048576").value(), 1048576ULL);
}

TEST(ParseSize, AcceptsLowerCaseAndByteSuffix) {
  EXPECT_EQ(parse_size("64mib").value(), 64ULL << 20);
  EXPECT_EQ(parse_size("2GB").value(), 2ULL << 30);
}

TEST(ParseSize, RejectsEmpty) {
  EXPECT_FALSE(parse_size("").has_value());
}

TEST(ParseSize, RejectsUnknownSuffix) {
  EXPECT_FALSE(parse_size("12Q").has_value());
}

TEST(ParseSize, RejectsNegative) {
  EXPECT_FALSE(parse_size("-1M").has_value());
}

TEST(ParseSize, RejectsOverflow) {
  EXPECT_FALSE(parse_size("99999999999999999T").has_value());
}

}  // namespace
}  // namespace heca

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "firmware/testguest/image.h"
#include "firmware/testguest/mbw_loop.h"

namespace heca::firmware {
namespace {

TEST(TestGuestImage, IsEmbeddedAndStartsWithTheEntryCode) {
  const auto image = test_guest_image();

  ASSERT_GT(image.size(), 512U);
  EXPECT_LT(image.size(), 1U << 20);  // must end below the stacks at 2 MiB
  EXPECT_EQ(image[0], 0xFA);          // cli: the 64-bit entry is the first byte
}

TEST(MbwLoop, CopiesEveryByteOnEachPass) {
  std::vector<std::uint8_t> src(4096 + 3);
  std::iota(src.begin(), src.end(), std::uint8_t{1});
  std::vector<std::uint8_t> dst(src.size(), 0);

  mbw_copy_passes(dst.data(), src.data(), src.size(), 3);

  EXPECT_EQ(dst, src);
}

}  // namespace
}  // namespace heca::firmware

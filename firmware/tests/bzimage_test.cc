#include "firmware/bzimage.h"

#include <gtest/gtest.h>

#include "firmware/tests/firmware_test_util.h"

namespace heca::firmware {
namespace {

using testing::BzImageSpec;
using testing::make_bzimage;

// The error text of a parse that must fail ("" if it unexpectedly succeeded).
std::string parse_error(const std::vector<std::uint8_t>& file) {
  const auto image = parse_bzimage(file);
  return image ? std::string() : image.error().what;
}

TEST(ParseBzImage, WellFormedImageParses) {
  const auto file = make_bzimage({.setup_sects = 4, .version = 0x020f, .init_size = 0x50000, .kernel_size = 0x3000});

  const auto image = parse_bzimage(file);

  ASSERT_TRUE(image.has_value()) << image.error().message();
  EXPECT_EQ(image->protocol_version, 0x020f);
  EXPECT_EQ(image->setup_sects, 4);
  EXPECT_EQ(image->setup.size(), 5u * 512);
  EXPECT_EQ(image->kernel.size(), 0x3000u);
  EXPECT_EQ(image->kernel.data(), file.data() + 5 * 512);
  EXPECT_EQ(image->init_size, 0x50000u);
  EXPECT_EQ(image->initrd_addr_max, 0x7fffffffu);
  EXPECT_EQ(image->cmdline_size, 2047u);
  EXPECT_EQ(image->xloadflags, 0x3);
}

TEST(ParseBzImage, ReadsPrefAddress) {
  const auto image = parse_bzimage(make_bzimage({.pref_address = 0x100'0000}));

  ASSERT_TRUE(image.has_value()) << image.error().message();
  EXPECT_EQ(image->pref_address, 0x100'0000u);
}

TEST(ParseBzImage, ZeroSetupSectsMeansFour) {
  const auto image = parse_bzimage(make_bzimage({.setup_sects = 0}));

  ASSERT_TRUE(image.has_value()) << image.error().message();
  EXPECT_EQ(image->setup_sects, 4);
  EXPECT_EQ(image->setup.size(), 5u * 512);
}

TEST(ParseBzImage, TooSmallFileIsRejected) {
  EXPECT_NE(parse_error(std::vector<std::uint8_t>(0x200, 0)).find("too small"), std::string::npos);
}

TEST(ParseBzImage, GarbageIsRejected) {
  std::vector<std::uint8_t> garbage(64 * 1024);
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 131 + 7);

  EXPECT_FALSE(parse_error(garbage).empty());
}

TEST(ParseBzImage, MissingBootSignatureIsRejected) {
  EXPECT_NE(parse_error(make_bzimage({.boot_flag = 0x1234})).find("0xAA55"), std::string::npos);
}

TEST(ParseBzImage, MissingHdrSMagicIsRejected) {
  EXPECT_NE(parse_error(make_bzimage({.magic = 0x12345678})).find("HdrS"), std::string::npos);
}

TEST(ParseBzImage, ProtocolOlderThan2_12IsRejected) {
  EXPECT_NE(parse_error(make_bzimage({.version = 0x020a})).find("2.10"), std::string::npos);
}

TEST(ParseBzImage, MissingKernel64FlagIsRejected) {
  EXPECT_NE(parse_error(make_bzimage({.xloadflags = 0x2})).find("XLF_KERNEL_64"), std::string::npos);
}

TEST(ParseBzImage, SetupSectsPastTheEndIsRejected) {
  auto file = make_bzimage({.setup_sects = 4, .kernel_size = 0x200});
  file[linux_boot::kSetupSects] = 200;

  EXPECT_NE(parse_error(file).find("setup_sects"), std::string::npos);
}

TEST(ParseBzImage, EmptyKernelPartIsRejected) {
  EXPECT_NE(parse_error(make_bzimage({.kernel_size = 0})).find("setup_sects"), std::string::npos);
}

}  // namespace
}  // namespace heca::firmware

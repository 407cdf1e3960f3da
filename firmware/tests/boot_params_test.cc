#include "firmware/boot_params.h"

#include <gtest/gtest.h>

#include "firmware/tests/firmware_test_util.h"

namespace heca::firmware {
namespace {

using ZeroPage = std::array<std::uint8_t, kBootParamsSize>;

template <std::unsigned_integral T>
T field(const ZeroPage& page, std::size_t offset) {
  return get_le<T>(std::span<const std::uint8_t>(page), offset);
}

ZeroPage build_ok(const BootParamsConfig& config) {
  auto page = build_boot_params(config);
  EXPECT_TRUE(page.has_value()) << (page ? "" : page.error().message());
  return page.value_or(ZeroPage{});
}

BootParamsConfig full_config() {
  return BootParamsConfig{
      .cmdline_gpa = 0x1'2345'6000,
      .cmdline_size = 10,
      .initrd_gpa = 0x2'0000'1000,
      .initrd_size = 0x3'0000'0000,
      .e820 = {{0, 0x9fc00, E820Type::kRam}, {0x9fc00, 0x60400, E820Type::kReserved}},
      .acpi_rsdp_gpa = 0xe0000,
  };
}

TEST(BootParams, CmdlinePointerSplitsAcrossLowAndExtFields) {
  const auto page = build_ok(full_config());

  EXPECT_EQ(field<std::uint32_t>(page, 0x228), 0x2345'6000u);
  EXPECT_EQ(field<std::uint32_t>(page, 0x0c8), 0x1u);
}

TEST(BootParams, RamdiskSplitsAcrossLowAndExtFields) {
  const auto page = build_ok(full_config());

  EXPECT_EQ(field<std::uint32_t>(page, 0x218), 0x1000u);
  EXPECT_EQ(field<std::uint32_t>(page, 0x0c0), 0x2u);
  EXPECT_EQ(field<std::uint32_t>(page, 0x21c), 0x0u);
  EXPECT_EQ(field<std::uint32_t>(page, 0x0c4), 0x3u);
}

TEST(BootParams, AcpiRsdpAddrAt0x70) {
  EXPECT_EQ(field<std::uint64_t>(build_ok(full_config()), 0x070), 0xe0000u);
}

TEST(BootParams, LoaderTypeFlagsAndHeap) {
  const auto page = build_ok(full_config());

  EXPECT_EQ(page[0x210], 0xff);
  EXPECT_EQ(page[0x211] & 0x81, 0x81);
  EXPECT_EQ(field<std::uint16_t>(page, 0x224), 0xfe00u);
}

TEST(BootParams, E820CountAndEntriesAt0x2d0) {
  const auto page = build_ok(full_config());

  EXPECT_EQ(page[0x1e8], 2);
  EXPECT_EQ(field<std::uint64_t>(page, 0x2d0), 0u);
  EXPECT_EQ(field<std::uint64_t>(page, 0x2d0 + 8), 0x9fc00u);
  EXPECT_EQ(field<std::uint32_t>(page, 0x2d0 + 16), 1u);
  EXPECT_EQ(field<std::uint64_t>(page, 0x2d0 + 20), 0x9fc00u);
  EXPECT_EQ(field<std::uint32_t>(page, 0x2d0 + 36), 2u);
}

TEST(BootParams, MoreThan128E820EntriesIsAnError) {
  BootParamsConfig config = full_config();
  config.e820.resize(129);

  EXPECT_FALSE(build_boot_params(config).has_value());
}

TEST(BootParams, FlatGuestLeavesSetupHeaderMagicZero) {
  const auto page = build_ok(full_config());

  EXPECT_EQ(field<std::uint32_t>(page, 0x202), 0u);
  EXPECT_EQ(field<std::uint16_t>(page, 0x1fe), 0u);
}

TEST(BootParams, CopiesTheKernelSetupHeader) {
  const auto file = testing::make_bzimage({.version = 0x020f, .init_size = 0x123000});
  const auto image = parse_bzimage(file);
  ASSERT_TRUE(image.has_value());
  BootParamsConfig config = full_config();
  config.kernel = &*image;

  const auto page = build_ok(config);

  EXPECT_EQ(field<std::uint32_t>(page, 0x202), 0x53726448u);
  EXPECT_EQ(field<std::uint16_t>(page, 0x206), 0x020fu);
  EXPECT_EQ(field<std::uint16_t>(page, 0x1fe), 0xaa55u);
  EXPECT_EQ(field<std::uint32_t>(page, 0x260), 0x123000u);
  EXPECT_EQ(field<std::uint32_t>(page, 0x230), 0x200000u);
}

TEST(BootParams, LoaderFieldsOverrideTheCopiedHeader) {
  const auto file = testing::make_bzimage();
  const auto image = parse_bzimage(file);
  ASSERT_TRUE(image.has_value());
  BootParamsConfig config = full_config();
  config.kernel = &*image;

  const auto page = build_ok(config);

  EXPECT_EQ(page[0x210], 0xff);
  EXPECT_EQ(field<std::uint32_t>(page, 0x228), 0x2345'6000u);
}

TEST(BootParams, NothingIsWrittenPastTheSetupHeader) {
  const auto file = testing::make_bzimage();
  const auto image = parse_bzimage(file);
  ASSERT_TRUE(image.has_value());
  BootParamsConfig config = full_config();
  config.kernel = &*image;
  config.e820.clear();

  const auto page = build_ok(config);

  EXPECT_TRUE(std::all_of(page.begin() + 0x26c, page.end(), [](std::uint8_t b) { return b == 0; }));
}

}  // namespace
}  // namespace heca::firmware

#include "firmware/boot_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "firmware/boot_params.h"
#include "firmware/tests/firmware_test_util.h"

namespace heca::firmware {
namespace {

using testing::make_bzimage;

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;

BootRequest request_with(std::variant<FlatImage, LinuxImage> image, std::uint64_t ram = kGiB) {
  return BootRequest{
      .ram = pc_ram_layout(ram),
      .acpi = testing::config_with_cpus(2),
      .cmdline = "console=ttyS0",
      .image = image,
  };
}

BootPlan plan_ok(const BootRequest& request) {
  auto plan = plan_boot(request);
  EXPECT_TRUE(plan.has_value()) << (plan ? "" : plan.error().message());
  return plan ? std::move(*plan) : BootPlan{};
}

// The write that starts at `gpa`, or null.
const GuestWrite* write_at(const BootPlan& plan, std::uint64_t gpa) {
  const auto it = std::ranges::find(plan.writes, gpa, &GuestWrite::gpa);
  return it == plan.writes.end() ? nullptr : &*it;
}

std::string plan_error(const BootRequest& request) {
  const auto plan = plan_boot(request);
  return plan ? std::string() : plan.error().what;
}

const std::vector<std::uint8_t> kFlatCode = {0xf4, 0xeb, 0xfd};  // hlt; jmp .-1

TEST(PlanBootFlat, EntryIsTheLoadAddress) {
  const auto plan = plan_ok(request_with(FlatImage{kFlatCode, 2 * kMiB}));

  EXPECT_EQ(plan.entry_rip, 2 * kMiB);
  EXPECT_EQ(plan.boot_params_gpa, kBootParamsAddr);
}

TEST(PlanBootFlat, WritesImageAtLoadAddress) {
  const auto plan = plan_ok(request_with(FlatImage{kFlatCode, 2 * kMiB}));

  const GuestWrite* image = write_at(plan, 2 * kMiB);
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->bytes, kFlatCode);
}

TEST(PlanBootFlat, WritesBootStructuresAtTheirAddresses) {
  const auto plan = plan_ok(request_with(FlatImage{kFlatCode}));

  ASSERT_NE(write_at(plan, kGdtAddr), nullptr);
  EXPECT_EQ(write_at(plan, kGdtAddr)->bytes.size(), 32u);
  ASSERT_NE(write_at(plan, kPml4Addr), nullptr);
  EXPECT_EQ(write_at(plan, kPml4Addr)->bytes.size(), 6 * kPageSize);
  ASSERT_NE(write_at(plan, kBootParamsAddr), nullptr);
  EXPECT_EQ(write_at(plan, kBootParamsAddr)->bytes.size(), kBootParamsSize);
  ASSERT_NE(write_at(plan, kAcpiBase), nullptr);
  EXPECT_EQ(std::string(write_at(plan, kAcpiBase)->bytes.begin(), write_at(plan, kAcpiBase)->bytes.begin() + 8), "RSD PTR ");
}

TEST(PlanBootFlat, CmdlineIsNulTerminatedAndPointedTo) {
  const auto plan = plan_ok(request_with(FlatImage{kFlatCode}));

  const GuestWrite* cmdline = write_at(plan, kCmdlineAddr);
  ASSERT_NE(cmdline, nullptr);
  EXPECT_EQ(std::string(cmdline->bytes.begin(), cmdline->bytes.end()), std::string("console=ttyS0", 14));
  const auto params = std::span<const std::uint8_t>(write_at(plan, kBootParamsAddr)->bytes);
  EXPECT_EQ(get_le<std::uint32_t>(params, linux_boot::kCmdLinePtr), kCmdlineAddr);
}

TEST(PlanBootFlat, BootParamsCarryE820AndRsdp) {
  const auto plan = plan_ok(request_with(FlatImage{kFlatCode}));

  const auto params = std::span<const std::uint8_t>(write_at(plan, kBootParamsAddr)->bytes);
  EXPECT_EQ(params[linux_boot::kE820Entries], 3);
  EXPECT_EQ(get_le<std::uint64_t>(params, linux_boot::kAcpiRsdpAddr), kAcpiBase);
}

TEST(PlanBootFlat, ImageBeyondRamIsAnError) {
  const std::vector<std::uint8_t> big(2 * kMiB, 0x90);

  const auto error = plan_error(request_with(FlatImage{big, 63 * kMiB}, 64 * kMiB));

  EXPECT_NE(error.find("does not fit"), std::string::npos);
}

TEST(PlanBootFlat, ImageBelowOneMiBIsAnError) {
  EXPECT_NE(plan_error(request_with(FlatImage{kFlatCode, 0x8000})).find("1 MiB"), std::string::npos);
}

TEST(PlanBootFlat, CmdlineLongerThanTheAreaIsAnError) {
  BootRequest request = request_with(FlatImage{kFlatCode});
  request.cmdline = std::string(kCmdlineMax, 'x');

  EXPECT_NE(plan_error(request).find("cmdline"), std::string::npos);
}

TEST(PlanBootFlat, BadAcpiConfigIsAnError) {
  BootRequest request = request_with(FlatImage{kFlatCode});
  request.acpi.cpus.clear();

  EXPECT_NE(plan_error(request).find("no CPUs"), std::string::npos);
}

TEST(PlanBootLinux, EntryIsThe64BitEntryPoint) {
  const auto bz = make_bzimage();

  const auto plan = plan_ok(request_with(LinuxImage{bz, {}}));

  EXPECT_EQ(plan.entry_rip, kKernelLoadAddr + 0x200);
}

TEST(PlanBootLinux, WritesProtectedModeKernelAtLoadAddress) {
  const auto bz = make_bzimage({.setup_sects = 4, .kernel_size = 0x3000});

  const auto plan = plan_ok(request_with(LinuxImage{bz, {}}));

  const GuestWrite* kernel = write_at(plan, kKernelLoadAddr);
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->bytes, std::vector<std::uint8_t>(bz.begin() + 5 * 512, bz.end()));
}

TEST(PlanBootLinux, BootParamsHoldTheSetupHeader) {
  const auto bz = make_bzimage();

  const auto plan = plan_ok(request_with(LinuxImage{bz, {}}));

  const auto params = std::span<const std::uint8_t>(write_at(plan, kBootParamsAddr)->bytes);
  EXPECT_EQ(get_le<std::uint32_t>(params, linux_boot::kHeaderMagic), linux_boot::kHeaderMagicValue);
  EXPECT_EQ(params[linux_boot::kTypeOfLoader], 0xff);
}

TEST(PlanBootLinux, InitrdIsPlacedPageAlignedAtTheTopOfLowRam) {
  const auto bz = make_bzimage();
  const std::vector<std::uint8_t> initrd(10000, 0x5a);

  const auto plan = plan_ok(request_with(LinuxImage{bz, initrd}, 256 * kMiB));

  const std::uint64_t expected = (256 * kMiB - initrd.size()) / kPageSize * kPageSize;
  ASSERT_NE(write_at(plan, expected), nullptr);
  EXPECT_EQ(write_at(plan, expected)->bytes, initrd);
  const auto params = std::span<const std::uint8_t>(write_at(plan, kBootParamsAddr)->bytes);
  EXPECT_EQ(get_le<std::uint32_t>(params, linux_boot::kRamdiskImage), expected);
  EXPECT_EQ(get_le<std::uint32_t>(params, linux_boot::kRamdiskSize), initrd.size());
}

TEST(PlanBootLinux, InitrdStaysBelowInitrdAddrMax) {
  const auto bz = make_bzimage({.initrd_addr_max = 0x0fff'ffff});
  const std::vector<std::uint8_t> initrd(3 * kPageSize, 0x5a);

  const auto plan = plan_ok(request_with(LinuxImage{bz, initrd}, 6 * kGiB));

  EXPECT_NE(write_at(plan, 0x1000'0000 - 3 * kPageSize), nullptr);
}

TEST(PlanBootLinux, InitrdStaysBelowTheMmioHoleWithLargeRam) {
  const auto bz = make_bzimage({.initrd_addr_max = 0xffff'ffff});
  const std::vector<std::uint8_t> initrd(kPageSize, 0x5a);

  const auto plan = plan_ok(request_with(LinuxImage{bz, initrd}, 6 * kGiB));

  EXPECT_NE(write_at(plan, kMmioHoleStart - kPageSize), nullptr);
}

TEST(PlanBootLinux, InitrdThatDoesNotFitIsAnError) {
  const auto bz = make_bzimage({.init_size = 0x100000, .initrd_addr_max = 0x7fffffff});
  const std::vector<std::uint8_t> initrd(31 * kMiB, 0);

  EXPECT_NE(plan_error(request_with(LinuxImage{bz, initrd}, 32 * kMiB)).find("initrd"), std::string::npos);
}

TEST(PlanBootLinux, InitrdAvoidsTheDecompressionAreaAbovePrefAddress) {
  // The kernel runs at 16 MiB and needs 40 MiB there: only 8 MiB are left below 64 MiB.
  const auto bz = make_bzimage({.init_size = 40 * kMiB, .pref_address = 16 * kMiB});
  const std::vector<std::uint8_t> initrd(10 * kMiB, 0);

  EXPECT_NE(plan_error(request_with(LinuxImage{bz, initrd}, 64 * kMiB)).find("initrd"), std::string::npos);
}

TEST(PlanBootLinux, CmdlineLongerThanKernelAcceptsIsAnError) {
  const auto bz = make_bzimage({.cmdline_size = 8});

  EXPECT_NE(plan_error(request_with(LinuxImage{bz, {}})).find("cmdline"), std::string::npos);
}

TEST(PlanBootLinux, KernelInitSizeBeyondRamIsAnError) {
  const auto bz = make_bzimage({.init_size = 64 * kMiB});

  EXPECT_NE(plan_error(request_with(LinuxImage{bz, {}}, 32 * kMiB)).find("does not fit"), std::string::npos);
}

TEST(PlanBootLinux, BadBzImageReportsTheParseError) {
  const auto bz = make_bzimage({.magic = 0});

  EXPECT_NE(plan_error(request_with(LinuxImage{bz, {}})).find("HdrS"), std::string::npos);
}

}  // namespace
}  // namespace heca::firmware

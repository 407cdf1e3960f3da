#include "kernel/uffd.h"

#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "kernel/base/check.h"

namespace heca::kernel {
namespace {

constexpr std::size_t kRegionSize = 16 * kUffdPageSize;

struct UffdFixture {
  MemfdRegion region;
  Uffd uffd;
};

UffdFixture make_fixture() {
  auto region = MemfdRegion::create(kRegionSize, "uffd-test");
  HECA_CHECK(region.has_value());
  auto uffd = Uffd::create(*region);
  if (!uffd) ADD_FAILURE() << uffd.error().message();
  HECA_CHECK(uffd.has_value());
  return UffdFixture{std::move(*region), std::move(*uffd)};
}

// Waits (with a deadline) for the next fault; fails the test on timeout.
std::optional<Uffd::Fault> next_fault(Uffd& uffd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{.fd = uffd.fd(), .events = POLLIN, .revents = 0};
    ::poll(&pfd, 1, 100);
    auto fault = uffd.read_fault();
    EXPECT_TRUE(fault.has_value());
    if (fault && *fault) return *fault;
  }
  ADD_FAILURE() << "no fault within 5 s";
  return std::nullopt;
}

// True when the memfd holds a page-cache page at `offset` (SEEK_DATA finds data there).
bool memfd_has_page(const MemfdRegion& region, std::uint64_t offset) {
  const off_t data = ::lseek(region.fd(), static_cast<off_t>(offset), SEEK_DATA);
  return data == static_cast<off_t>(offset);
}

TEST(Uffd, MissingFeatureMessageNamesEachMissingFeature) {
  const std::uint64_t required =
      UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;

  const std::string message = missing_uffd_features(UFFD_FEATURE_MISSING_SHMEM, required);

  EXPECT_EQ(message, "MINOR_SHMEM, WP_HUGETLBFS_SHMEM");
  EXPECT_EQ(missing_uffd_features(required, required), "");
}

TEST(Uffd, ReadOfHoleFaultsAndMapPageShowsEngineData) {
  auto f = make_fixture();
  const std::uint64_t offset = 3 * kUffdPageSize;
  std::atomic<int> seen{-1};
  std::thread reader([&] { seen = f.region.guest_view()[offset + 7]; });

  const auto fault = next_fault(f.uffd);
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(fault->offset, offset);
  EXPECT_FALSE(fault->write);
  EXPECT_FALSE(fault->minor);
  EXPECT_EQ(seen.load(), -1);
  f.region.engine_view()[offset + 7] = 0x5a;
  ASSERT_TRUE(f.uffd.map_page(offset, /*write_protect=*/true).has_value());
  reader.join();

  EXPECT_EQ(seen.load(), 0x5a);
}

TEST(Uffd, MapPageOfNeverWrittenPageAllocatesZeroPage) {
  auto f = make_fixture();
  const std::uint64_t offset = 5 * kUffdPageSize;
  std::atomic<int> seen{-1};
  std::thread reader([&] { seen = f.region.guest_view()[offset]; });

  ASSERT_TRUE(next_fault(f.uffd).has_value());
  ASSERT_TRUE(f.uffd.map_page(offset, true).has_value());
  reader.join();

  EXPECT_EQ(seen.load(), 0);
  EXPECT_TRUE(memfd_has_page(f.region, offset));
}

TEST(Uffd, WriteToWriteProtectedPageFaultsUntilUnprotected) {
  auto f = make_fixture();
  const std::uint64_t offset = 0;
  f.region.engine_view()[offset] = 1;
  ASSERT_TRUE(f.uffd.map_page(offset, /*write_protect=*/true).has_value());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    f.region.guest_view()[offset] = 2;
    done = true;
  });

  const auto fault = next_fault(f.uffd);
  ASSERT_TRUE(fault.has_value());
  EXPECT_TRUE(fault->wp);
  EXPECT_TRUE(fault->write);
  EXPECT_FALSE(done.load());
  ASSERT_TRUE(f.uffd.set_write_protect(offset, false).has_value());
  writer.join();

  EXPECT_EQ(f.region.engine_view()[offset], 2);
}

// The path of hosts before Linux 6.4 (no UFFDIO_CONTINUE_MODE_WP), taken here on purpose.
TEST(Uffd, TwoStepReadOnlyMappingShowsDataAndWriteProtects) {
  auto f = make_fixture();
  Uffd::use_two_step_read_only(true);
  const std::uint64_t offset = 3 * kUffdPageSize;
  f.region.engine_view()[offset] = 7;
  ASSERT_TRUE(f.uffd.map_page(offset, /*write_protect=*/true).has_value());
  EXPECT_EQ(f.region.guest_view()[offset], 7);  // mapped: no fault
  std::atomic<bool> done{false};
  std::thread writer([&] {
    f.region.guest_view()[offset] = 8;
    done = true;
  });

  const auto fault = next_fault(f.uffd);
  ASSERT_TRUE(fault.has_value());
  EXPECT_TRUE(fault->wp);
  EXPECT_FALSE(done.load());
  ASSERT_TRUE(f.uffd.set_write_protect(offset, false).has_value());
  writer.join();
  Uffd::use_two_step_read_only(false);

  EXPECT_EQ(f.region.engine_view()[offset], 8);
}

TEST(Uffd, MapRangeWritableMapsEveryPageWithoutFaults) {
  auto f = make_fixture();
  f.region.engine_view()[2 * kUffdPageSize] = 5;  // one page with data, the others holes

  ASSERT_TRUE(f.uffd.map_range_writable(kUffdPageSize, 4 * kUffdPageSize).has_value());

  EXPECT_EQ(f.region.guest_view()[2 * kUffdPageSize], 5);
  for (std::uint64_t page = 1; page <= 4; ++page) {
    f.region.guest_view()[page * kUffdPageSize + 1] = 9;  // would block: no fault handler runs
  }
  EXPECT_EQ(f.region.engine_view()[4 * kUffdPageSize + 1], 9);
  EXPECT_FALSE(f.uffd.map_range_writable(kRegionSize - kUffdPageSize, 2 * kUffdPageSize));
}

TEST(Uffd, MapPageTwiceAdjustsWriteProtection) {
  auto f = make_fixture();
  ASSERT_TRUE(f.uffd.map_page(0, true).has_value());

  ASSERT_TRUE(f.uffd.map_page(0, false).has_value());
  f.region.guest_view()[0] = 9;  // would block forever if still write-protected

  EXPECT_EQ(f.region.engine_view()[0], 9);
}

TEST(Uffd, ZapMakesNextAccessFaultAsMinor) {
  auto f = make_fixture();
  const std::uint64_t offset = 2 * kUffdPageSize;
  f.region.engine_view()[offset] = 4;
  ASSERT_TRUE(f.uffd.map_page(offset, false).has_value());
  ASSERT_EQ(f.region.guest_view()[offset], 4);
  ASSERT_TRUE(f.uffd.zap(offset).has_value());
  std::atomic<int> seen{-1};
  std::thread reader([&] { seen = f.region.guest_view()[offset]; });

  const auto fault = next_fault(f.uffd);
  ASSERT_TRUE(fault.has_value());
  EXPECT_TRUE(fault->minor);
  EXPECT_EQ(fault->offset, offset);
  ASSERT_TRUE(f.uffd.map_page(offset, true).has_value());
  reader.join();

  EXPECT_EQ(seen.load(), 4);
}

TEST(Uffd, PunchFreesTheMemfdPage) {
  auto f = make_fixture();
  const std::uint64_t offset = 4 * kUffdPageSize;
  f.region.engine_view()[offset] = 1;
  ASSERT_TRUE(memfd_has_page(f.region, offset));

  ASSERT_TRUE(f.uffd.punch(offset).has_value());

  EXPECT_FALSE(memfd_has_page(f.region, offset));
}

TEST(Uffd, ZappedWriteProtectedPageFaultsAndCanBeMappedWritable) {
  auto f = make_fixture();
  const std::uint64_t offset = 6 * kUffdPageSize;
  ASSERT_TRUE(f.uffd.map_page(offset, /*write_protect=*/true).has_value());
  ASSERT_TRUE(f.uffd.zap(offset).has_value());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    f.region.guest_view()[offset] = 3;
    done = true;
  });

  const auto fault = next_fault(f.uffd);
  ASSERT_TRUE(fault.has_value());
  EXPECT_TRUE(fault->write);
  EXPECT_FALSE(done.load());
  ASSERT_TRUE(f.uffd.map_page(offset, /*write_protect=*/false).has_value());
  writer.join();

  EXPECT_EQ(f.region.engine_view()[offset], 3);
}

TEST(Uffd, PunchedPageFaultsAsMissing) {
  auto f = make_fixture();
  const std::uint64_t offset = 7 * kUffdPageSize;
  f.region.engine_view()[offset] = 8;
  ASSERT_TRUE(f.uffd.map_page(offset, false).has_value());
  ASSERT_TRUE(f.uffd.punch(offset).has_value());
  std::atomic<int> seen{-1};
  std::thread reader([&] { seen = f.region.guest_view()[offset]; });

  const auto fault = next_fault(f.uffd);
  ASSERT_TRUE(fault.has_value());
  EXPECT_FALSE(fault->minor);
  f.region.engine_view()[offset] = 9;
  ASSERT_TRUE(f.uffd.map_page(offset, true).has_value());
  reader.join();

  EXPECT_EQ(seen.load(), 9);
}

TEST(Uffd, RejectsUnalignedOffset) {
  auto f = make_fixture();

  const auto status = f.uffd.zap(100);

  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, EINVAL);
}

}  // namespace
}  // namespace heca::kernel

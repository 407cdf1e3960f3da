#include "kernel/uffd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>

#include "kernel/base/log.h"

#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP (static_cast<__u64>(1) << 1)
#endif

namespace heca::kernel {
namespace {

struct FeatureName {
  std::uint64_t bit;
  std::string_view name;
};

constexpr std::array<FeatureName, 13> kFeatureNames{{
    {UFFD_FEATURE_PAGEFAULT_FLAG_WP, "PAGEFAULT_FLAG_WP"},
    {UFFD_FEATURE_EVENT_FORK, "EVENT_FORK"},
    {UFFD_FEATURE_EVENT_REMAP, "EVENT_REMAP"},
    {UFFD_FEATURE_EVENT_REMOVE, "EVENT_REMOVE"},
    {UFFD_FEATURE_MISSING_HUGETLBFS, "MISSING_HUGETLBFS"},
    {UFFD_FEATURE_MISSING_SHMEM, "MISSING_SHMEM"},
    {UFFD_FEATURE_EVENT_UNMAP, "EVENT_UNMAP"},
    {UFFD_FEATURE_SIGBUS, "SIGBUS"},
    {UFFD_FEATURE_THREAD_ID, "THREAD_ID"},
    {UFFD_FEATURE_MINOR_HUGETLBFS, "MINOR_HUGETLBFS"},
    {UFFD_FEATURE_MINOR_SHMEM, "MINOR_SHMEM"},
    {UFFD_FEATURE_EXACT_ADDRESS, "EXACT_ADDRESS"},
    {UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "WP_HUGETLBFS_SHMEM"},
}};

constexpr std::uint64_t kRequiredFeatures =
    UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
constexpr std::uint64_t kRegisterModes =
    UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_WP;
constexpr std::uint64_t kNeededIoctls = (std::uint64_t{1} << _UFFDIO_CONTINUE) |
                                        (std::uint64_t{1} << _UFFDIO_WRITEPROTECT) |
                                        (std::uint64_t{1} << _UFFDIO_WAKE);

// A fresh non-blocking userfaultfd. KVM faults are kernel-mode faults, so
// UFFD_USER_MODE_ONLY must not be set.
Result<Fd> open_userfaultfd() {
  const int flags = O_CLOEXEC | O_NONBLOCK;
  Fd fd{static_cast<int>(::syscall(SYS_userfaultfd, flags))};
  if (fd) return fd;
  const int syscall_errno = errno;
  Fd dev{::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC)};
  if (!dev) {
    errno = syscall_errno;
    return errno_error("userfaultfd (and /dev/userfaultfd is not usable either)");
  }
  Fd via_dev{::ioctl(dev.get(), USERFAULTFD_IOC_NEW, flags)};
  if (!via_dev) return errno_error("USERFAULTFD_IOC_NEW on /dev/userfaultfd");
  return via_dev;
}

// UFFDIO_API may be issued once per fd, so the query uses a throw-away fd.
Result<std::uint64_t> query_features() {
  auto fd = open_userfaultfd();
  if (!fd) return std::unexpected(fd.error());
  uffdio_api api{.api = UFFD_API, .features = 0, .ioctls = 0};
  if (::ioctl(fd->get(), UFFDIO_API, &api) != 0) return errno_error("UFFDIO_API (query)");
  return api.features;
}

Status enable_features(int fd, std::uint64_t features) {
  uffdio_api api{.api = UFFD_API, .features = features, .ioctls = 0};
  if (::ioctl(fd, UFFDIO_API, &api) != 0) return errno_error("UFFDIO_API (enable features)");
  return {};
}

Status register_range(int fd, std::uint8_t* start, std::uint64_t size) {
  uffdio_register reg{};
  reg.range = {.start = reinterpret_cast<std::uintptr_t>(start), .len = size};
  reg.mode = kRegisterModes;
  if (::ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
    return errno_error("UFFDIO_REGISTER guest view (MISSING|MINOR|WP)");
  }
  if ((reg.ioctls & kNeededIoctls) != kNeededIoctls) {
    return make_error("UFFDIO_REGISTER: guest view lacks CONTINUE/WRITEPROTECT/WAKE ioctls",
                      ENOTSUP);
  }
  return {};
}

}  // namespace

std::string missing_uffd_features(std::uint64_t available, std::uint64_t required) {
  std::string out;
  for (const auto& feature : kFeatureNames) {
    if ((required & feature.bit) == 0 || (available & feature.bit) != 0) continue;
    if (!out.empty()) out += ", ";
    out += feature.name;
  }
  return out;
}

Uffd::Uffd(Fd fd, const MemfdRegion& region, bool thread_id)
    : fd_(std::move(fd)),
      guest_(region.guest_view()),
      engine_(region.engine_view()),
      size_(region.size()),
      memfd_(region.fd()),
      thread_id_(thread_id) {}

Result<Uffd> Uffd::create(MemfdRegion& region) {
  auto available = query_features();
  if (!available) return std::unexpected(available.error());
  const std::string missing = missing_uffd_features(*available, kRequiredFeatures);
  if (!missing.empty()) {
    return make_error("userfaultfd lacks required kernel features: " + missing, ENOTSUP);
  }
  const bool thread_id = (*available & UFFD_FEATURE_THREAD_ID) != 0;
  auto fd = open_userfaultfd();
  if (!fd) return std::unexpected(fd.error());
  const std::uint64_t features = kRequiredFeatures | (thread_id ? UFFD_FEATURE_THREAD_ID : 0);
  if (auto s = enable_features(fd->get(), features); !s) return std::unexpected(s.error());
  if (auto s = register_range(fd->get(), region.guest_view(), region.size()); !s) {
    return std::unexpected(s.error());
  }
  return Uffd(std::move(*fd), region, thread_id);
}

Result<std::optional<Uffd::Fault>> Uffd::read_fault() {
  while (true) {
    uffd_msg msg{};
    const ssize_t n = ::read(fd_.get(), &msg, sizeof(msg));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return std::optional<Fault>{};
    if (n < 0) return errno_error("read userfaultfd");
    if (static_cast<std::size_t>(n) != sizeof(msg)) {
      return make_error("read userfaultfd: short message of " + std::to_string(n) + " bytes");
    }
    // Only page faults are enabled; any other event carries nothing to resolve.
    if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
    const std::uint64_t flags = msg.arg.pagefault.flags;
    const std::uint64_t offset =
        (msg.arg.pagefault.address - reinterpret_cast<std::uintptr_t>(guest_)) &
        ~(kUffdPageSize - 1);
    return std::optional<Fault>{Fault{
        .offset = offset,
        .write = (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0,
        .wp = (flags & UFFD_PAGEFAULT_FLAG_WP) != 0,
        .minor = (flags & UFFD_PAGEFAULT_FLAG_MINOR) != 0,
        .tid = thread_id_ ? msg.arg.pagefault.feat.ptid : 0,
    }};
  }
}

// UFFDIO_CONTINUE needs a page-cache page. An atomic add of zero through the (unregistered)
// engine view allocates a zero page for a hole and leaves existing data untouched even if
// another thread writes it concurrently. A plain read would not do: reading a shmem hole
// maps the shared zero page without allocating.
void Uffd::populate_engine_page(std::uint64_t offset) {
  std::atomic_ref<std::uint64_t> word{*reinterpret_cast<std::uint64_t*>(engine_ + offset)};
  word.fetch_add(0, std::memory_order_relaxed);
}

namespace {

// Whether this host kernel takes UFFDIO_CONTINUE_MODE_WP (Linux 6.4 and later): unknown until
// the first read-only install tries it. The same for every userfaultfd of the process.
enum class ContinueWp : int { kUnknown, kSupported, kMissing };
std::atomic<ContinueWp> continue_wp{ContinueWp::kUnknown};

}  // namespace

Status Uffd::map_page(std::uint64_t offset, bool write_protect) {
  if (auto s = check_offset(offset, "map_page"); !s) return s;
  populate_engine_page(offset);
  if (write_protect && continue_wp.load(std::memory_order_relaxed) == ContinueWp::kMissing) {
    return map_page_then_protect(offset);
  }
  uffdio_continue cont{};
  cont.range = {.start = guest_address(offset), .len = kUffdPageSize};
  cont.mode = write_protect ? UFFDIO_CONTINUE_MODE_WP : 0;
  while (::ioctl(fd_.get(), UFFDIO_CONTINUE, &cont) != 0) {
    if (errno == EAGAIN) continue;  // raced with a concurrent mm change: retry
    if (errno == EINVAL && write_protect &&
        continue_wp.load(std::memory_order_relaxed) == ContinueWp::kUnknown) {
      continue_wp.store(ContinueWp::kMissing, std::memory_order_relaxed);
      spdlog::warn("this host kernel has no UFFDIO_CONTINUE_MODE_WP (Linux < 6.4): read-only pages "
                "are mapped, then write-protected, and checked for a write in between");
      return map_page_then_protect(offset);
    }
    if (errno != EEXIST) {
      return errno_error("UFFDIO_CONTINUE at offset " + std::to_string(offset));
    }
    if (auto s = set_write_protect(offset, write_protect); !s) return s;
    return wake(offset);
  }
  if (write_protect) continue_wp.store(ContinueWp::kSupported, std::memory_order_relaxed);
  return {};
}

bool Uffd::one_step_read_only() {
  if (continue_wp.load(std::memory_order_relaxed) == ContinueWp::kMissing) return false;
  utsname name{};
  if (::uname(&name) != 0) return false;
  unsigned major = 0;
  unsigned minor = 0;
  if (std::sscanf(name.release, "%u.%u", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 4);
}

void Uffd::use_two_step_read_only(bool two_step) {
  continue_wp.store(two_step ? ContinueWp::kMissing : ContinueWp::kUnknown,
                    std::memory_order_relaxed);
}

// Before Linux 6.4 a page cannot be mapped read-only in one step: it is mapped writable
// without waking anyone, then write-protected, then the waiters are woken. A vCPU thread that
// was not waiting could write the page in between; the write would then be invisible to the
// other nodes, so the page is compared with its contents before the mapping and a difference
// is an error (the node stops) rather than lost data.
Status Uffd::map_page_then_protect(std::uint64_t offset) {
  std::array<std::uint8_t, kUffdPageSize> before;
  std::memcpy(before.data(), engine_ + offset, kUffdPageSize);
  uffdio_continue cont{};
  cont.range = {.start = guest_address(offset), .len = kUffdPageSize};
  cont.mode = UFFDIO_CONTINUE_MODE_DONTWAKE;
  while (::ioctl(fd_.get(), UFFDIO_CONTINUE, &cont) != 0) {
    if (errno == EAGAIN) continue;
    if (errno != EEXIST) return errno_error("UFFDIO_CONTINUE at offset " + std::to_string(offset));
    break;  // already mapped: only its protection changes
  }
  uffdio_writeprotect wp{};
  wp.range = {.start = guest_address(offset), .len = kUffdPageSize};
  wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;  // protecting never wakes (and may not say DONTWAKE)
  if (::ioctl(fd_.get(), UFFDIO_WRITEPROTECT, &wp) != 0) {
    return errno_error("UFFDIO_WRITEPROTECT on at offset " + std::to_string(offset));
  }
  if (std::memcmp(before.data(), engine_ + offset, kUffdPageSize) != 0) {
    return make_error("a guest write reached the page at offset " + std::to_string(offset) +
                      " while it was being mapped read-only (host kernel without "
                      "UFFDIO_CONTINUE_MODE_WP); stopping rather than losing it");
  }
  return wake(offset);
}

Status Uffd::map_range_writable(std::uint64_t offset, std::uint64_t length) {
  if (length == 0) return {};
  if (auto s = check_offset(offset, "map_range_writable"); !s) return s;
  if (length % kUffdPageSize != 0 || length > size_ - offset) {
    return make_error("map_range_writable: length " + std::to_string(length) +
                      " does not fit the region at offset " + std::to_string(offset), EINVAL);
  }
  // UFFDIO_CONTINUE needs page-cache pages: allocate them all at once (Linux 5.14+), or one by
  // one where MADV_POPULATE_WRITE is unknown.
  if (::madvise(engine_ + offset, length, MADV_POPULATE_WRITE) != 0) {
    for (std::uint64_t at = offset; at < offset + length; at += kUffdPageSize) {
      populate_engine_page(at);
    }
  }
  std::uint64_t done = 0;
  while (done < length) {
    uffdio_continue cont{};
    cont.range = {.start = guest_address(offset + done), .len = length - done};
    cont.mode = UFFDIO_CONTINUE_MODE_DONTWAKE;
    if (::ioctl(fd_.get(), UFFDIO_CONTINUE, &cont) == 0) break;
    if (errno == EAGAIN && cont.mapped > 0) {
      done += static_cast<std::uint64_t>(cont.mapped);
      continue;
    }
    if (errno == EAGAIN) continue;
    return errno_error("UFFDIO_CONTINUE of " + std::to_string(length - done) +
                       " bytes at offset " + std::to_string(offset + done));
  }
  return {};
}

Status Uffd::set_write_protect(std::uint64_t offset, bool write_protect) {
  if (auto s = check_offset(offset, "set_write_protect"); !s) return s;
  uffdio_writeprotect wp{};
  wp.range = {.start = guest_address(offset), .len = kUffdPageSize};
  wp.mode = write_protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  if (::ioctl(fd_.get(), UFFDIO_WRITEPROTECT, &wp) != 0) {
    return errno_error("UFFDIO_WRITEPROTECT " + std::string(write_protect ? "on" : "off") +
                       " at offset " + std::to_string(offset));
  }
  return {};
}

Status Uffd::zap(std::uint64_t offset) {
  if (auto s = check_offset(offset, "zap"); !s) return s;
  if (::madvise(guest_ + offset, kUffdPageSize, MADV_DONTNEED) != 0) {
    return errno_error("madvise(MADV_DONTNEED) guest view at offset " + std::to_string(offset));
  }
  return {};
}

Status Uffd::punch(std::uint64_t offset) {
  if (auto s = check_offset(offset, "punch"); !s) return s;
  if (::fallocate(memfd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(kUffdPageSize)) != 0) {
    return errno_error("fallocate(PUNCH_HOLE) memfd at offset " + std::to_string(offset));
  }
  return {};
}

Status Uffd::wake(std::uint64_t offset) {
  if (auto s = check_offset(offset, "wake"); !s) return s;
  uffdio_range range{.start = guest_address(offset), .len = kUffdPageSize};
  if (::ioctl(fd_.get(), UFFDIO_WAKE, &range) != 0) {
    return errno_error("UFFDIO_WAKE at offset " + std::to_string(offset));
  }
  return {};
}

Status Uffd::check_offset(std::uint64_t offset, const char* what) const {
  if (offset % kUffdPageSize != 0 || offset >= size_) {
    return make_error(
        std::string(what) + ": offset " + std::to_string(offset) + " is not a page of the region",
        EINVAL);
  }
  return {};
}

std::uint64_t Uffd::guest_address(std::uint64_t offset) const {
  return reinterpret_cast<std::uintptr_t>(guest_) + offset;
}

}  // namespace heca::kernel

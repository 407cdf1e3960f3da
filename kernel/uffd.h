// Uffd: the userfaultfd registered on a MemfdRegion's guest view (MISSING | MINOR | WP).
// It reports guest-view faults and maps, write-protects, zaps and frees pages of the region.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kernel/base/fd.h"
#include "kernel/base/result.h"
#include "kernel/memfd_region.h"

namespace heca::kernel {

inline constexpr std::uint64_t kUffdPageSize = 4096;

// Names the bits of `required` missing from `available` ("MINOR_SHMEM, WP_HUGETLBFS_SHMEM"),
// as used in the error of Uffd::create(); empty when nothing is missing.
[[nodiscard]] std::string missing_uffd_features(std::uint64_t available, std::uint64_t required);

// Thread-safety: every method may be called from any thread (the kernel serialises the
// ioctls); reads of fault messages are normally done by one event-loop thread.
// INVARIANT: the MemfdRegion outlives the Uffd (its views and fd are borrowed, not owned).
class Uffd {
 public:
  // Opens a non-blocking userfaultfd (syscall, or /dev/userfaultfd when the syscall is refused),
  // enables MISSING_SHMEM, MINOR_SHMEM, WP_HUGETLBFS_SHMEM (+ THREAD_ID when available) and
  // registers the whole guest view. Fails naming any missing kernel feature.
  [[nodiscard]] static Result<Uffd> create(MemfdRegion& region);

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] bool has_thread_id() const { return thread_id_; }

  struct Fault {
    std::uint64_t offset = 0;  // page-aligned offset in the region
    bool write = false;        // the access was a write
    bool wp = false;           // a write hit a write-protected (state S) page
    bool minor = false;        // a page-cache copy exists (stale); otherwise MISSING
    std::uint32_t tid = 0;     // faulting thread, 0 without UFFD_FEATURE_THREAD_ID
  };
  // The next pending page fault, or nullopt when none is pending (EAGAIN).
  [[nodiscard]] Result<std::optional<Fault>> read_fault();

  // Maps the page at `offset` into the guest view from the page cache (UFFDIO_CONTINUE) and
  // wakes its faulting threads. The engine view must already hold the data; a page that
  // was never written there is first allocated (zero-filled) through the engine view.
  // write_protect=true maps it read-only (state S), false writable (state M). A page that
  // is already mapped (EEXIST) is not an error: its write protection is adjusted instead.
  [[nodiscard]] Status map_page(std::uint64_t offset, bool write_protect);
  // Maps [offset, offset + length) writable (state M) in one step, allocating zero pages in
  // the engine view where there are none; for a range nobody has faulted on yet (no wake).
  [[nodiscard]] Status map_range_writable(std::uint64_t offset, std::uint64_t length);
  // Takes the two-step read-only mapping of hosts without UFFDIO_CONTINUE_MODE_WP (before
  // Linux 6.4) even where the kernel has it (true), or detects again (false). Process-wide.
  static void use_two_step_read_only(bool two_step);
  // Whether this host maps read-only pages in one step (UFFDIO_CONTINUE_MODE_WP, Linux 6.4+),
  // from the kernel release; false where the release cannot be read.
  [[nodiscard]] static bool one_step_read_only();
  // S <-> M for a mapped page; un-protecting wakes the threads waiting on a WP fault.
  [[nodiscard]] Status set_write_protect(std::uint64_t offset, bool write_protect);
  // MADV_DONTNEED on the guest-view page: drops the PTE (state I); the page cache stays.
  [[nodiscard]] Status zap(std::uint64_t offset);
  // fallocate(PUNCH_HOLE | KEEP_SIZE) on the memfd page: frees it in every view.
  [[nodiscard]] Status punch(std::uint64_t offset);
  // Wakes threads blocked on a fault at `offset` (after it was resolved some other way).
  [[nodiscard]] Status wake(std::uint64_t offset);

 private:
  Uffd(Fd fd, const MemfdRegion& region, bool thread_id);
  [[nodiscard]] Status check_offset(std::uint64_t offset, const char* what) const;
  [[nodiscard]] std::uint64_t guest_address(std::uint64_t offset) const;
  void populate_engine_page(std::uint64_t offset);
  [[nodiscard]] Status map_page_then_protect(std::uint64_t offset);

  Fd fd_;
  std::uint8_t* guest_ = nullptr;
  std::uint8_t* engine_ = nullptr;
  std::uint64_t size_ = 0;
  int memfd_ = -1;
  bool thread_id_ = false;
};

}  // namespace heca::kernel

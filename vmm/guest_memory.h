// GuestMemory: guest RAM laid out as a PC (firmware::pc_ram_layout) over one MemfdRegion.
// KVM gets one memslot per RAM range (guest view); the loader writes through the engine view.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "firmware/guest_layout.h"
#include "kernel/base/result.h"
#include "kernel/memfd_region.h"
#include "vmm/kvm/vm_fd.h"

namespace heca::vmm {

// The offset of [gpa, gpa + length) in a memfd holding `ranges` back to back; an error
// unless the whole access lies inside one range.
[[nodiscard]] Result<std::uint64_t> ram_offset(std::span<const firmware::RamRange> ranges,
                                               std::uint64_t gpa, std::uint64_t length);
// The inverse: the guest-physical address of memfd offset `offset`, or an error past the end.
[[nodiscard]] Result<std::uint64_t> ram_gpa(std::span<const firmware::RamRange> ranges,
                                            std::uint64_t offset);

// Thread-safety: immutable after create(); write() touches only the memfd's pages, so
// concurrent writes to disjoint ranges are safe.
class GuestMemory {
 public:
  // `size` bytes of RAM: non-zero and a multiple of the page size.
  [[nodiscard]] static Result<GuestMemory> create(std::uint64_t size);

  [[nodiscard]] std::uint64_t size() const { return region_.size(); }
  [[nodiscard]] std::span<const firmware::RamRange> ranges() const { return ranges_; }
  // Registers memslot i for ranges()[i], backed by the guest view.
  [[nodiscard]] Status register_slots(VmFd& vm) const;
  // The memfd offset of [gpa, gpa + length); an error unless it lies inside one RAM range.
  [[nodiscard]] Result<std::uint64_t> memfd_offset(std::uint64_t gpa, std::uint64_t length) const;
  // Copies `bytes` to guest-physical `gpa` through the engine view (bounds-checked).
  [[nodiscard]] Status write(std::uint64_t gpa, std::span<const std::uint8_t> bytes);
  // The engine-view bytes of [gpa, gpa + length) (bounds-checked).
  [[nodiscard]] Result<std::span<const std::uint8_t>> read(std::uint64_t gpa,
                                                           std::uint64_t length) const;

 private:
  GuestMemory(kernel::MemfdRegion region, std::vector<firmware::RamRange> ranges)
      : region_(std::move(region)), ranges_(std::move(ranges)) {}
  kernel::MemfdRegion region_;
  std::vector<firmware::RamRange> ranges_;  // INVARIANT: in address order, sizes sum to size()
};

}  // namespace heca::vmm

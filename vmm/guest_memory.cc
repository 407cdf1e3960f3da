#include "vmm/guest_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace heca::vmm {

Result<GuestMemory> GuestMemory::create(std::uint64_t size) {
  if (size == 0) return make_error("guest memory size must not be 0");
  if (size % firmware::kPageSize != 0) {
    return make_error(fmt::format("guest memory size {} is not a multiple of the {}-byte page",
                                  size, firmware::kPageSize));
  }
  auto region = kernel::MemfdRegion::create(size, "heca-guest-ram");
  if (!region) return wrap_error(region.error(), "allocating guest memory");
  return GuestMemory(std::move(*region), firmware::pc_ram_layout(size));
}

Status GuestMemory::register_slots(VmFd& vm) const {
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < ranges_.size(); ++i) {
    const auto& range = ranges_[i];
    if (auto s = vm.set_memory_region(static_cast<std::uint32_t>(i), range.gpa, range.size,
                                      region_.guest_view() + offset);
        !s) {
      return s;
    }
    offset += range.size;
  }
  return {};
}

Result<std::uint64_t> ram_offset(std::span<const firmware::RamRange> ranges, std::uint64_t gpa,
                                 std::uint64_t length) {
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  for (const auto& range : ranges) total += range.size;
  for (const auto& range : ranges) {
    const bool inside = gpa >= range.gpa && gpa - range.gpa <= range.size &&
                        length <= range.size - (gpa - range.gpa);
    if (inside) return offset + (gpa - range.gpa);
    offset += range.size;
  }
  return make_error(fmt::format("guest range [{:#x}, +{:#x}) is outside guest RAM ({} bytes)", gpa,
                                length, total));
}

Result<std::uint64_t> ram_gpa(std::span<const firmware::RamRange> ranges, std::uint64_t offset) {
  const std::uint64_t asked = offset;
  for (const auto& range : ranges) {
    if (offset < range.size) return range.gpa + offset;
    offset -= range.size;
  }
  return make_error(fmt::format("offset {:#x} is past the end of guest RAM", asked));
}

Result<std::uint64_t> GuestMemory::memfd_offset(std::uint64_t gpa, std::uint64_t length) const {
  return ram_offset(ranges_, gpa, length);
}

Status GuestMemory::write(std::uint64_t gpa, std::span<const std::uint8_t> bytes) {
  auto offset = memfd_offset(gpa, bytes.size());
  if (!offset) return std::unexpected(offset.error());
  std::copy(bytes.begin(), bytes.end(), region_.engine_view() + *offset);
  return {};
}

Result<std::span<const std::uint8_t>> GuestMemory::read(std::uint64_t gpa,
                                                        std::uint64_t length) const {
  auto offset = memfd_offset(gpa, length);
  if (!offset) return std::unexpected(offset.error());
  return std::span<const std::uint8_t>(region_.engine_view() + *offset, length);
}

}  // namespace heca::vmm

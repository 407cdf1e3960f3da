// The Linux "zero page" (struct boot_params) heca writes at kBootParamsAddr and passes in RSI.
// Pure builder; field offsets live in boot_protocol.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "firmware/bzimage.h"
#include "firmware/e820.h"
#include "kernel/base/result.h"

namespace heca::firmware {

inline constexpr std::size_t kBootParamsSize = 4096;

struct BootParamsConfig {
  const BzImage* kernel = nullptr;  // null for flat test guests (setup header left zero)
  std::uint64_t cmdline_gpa = 0;
  std::uint32_t cmdline_size = 0;   // without the NUL
  std::uint64_t initrd_gpa = 0;
  std::uint64_t initrd_size = 0;
  std::vector<E820Entry> e820;
  std::uint64_t acpi_rsdp_gpa = 0;
};

// Copies the bzImage setup header into the zero page (when kernel != null) and fills type_of_loader=0xff,
// loadflags (LOADED_HIGH, CAN_USE_HEAP), heap_end_ptr, cmd_line_ptr (+ext_cmd_line_ptr),
// ramdisk_image/size (+ext_*), e820_entries + e820_table, acpi_rsdp_addr. The loader fields are
// filled for flat guests too, so they can find their cmdline. Errors: too many e820 entries.
[[nodiscard]] Result<std::array<std::uint8_t, kBootParamsSize>> build_boot_params(const BootParamsConfig& config);

}  // namespace heca::firmware

// Everything a loader must write into guest RAM to boot a vCPU in 64-bit mode, computed purely:
// GDT, page tables, boot_params, cmdline, ACPI, and a flat test image or a Linux bzImage + initrd.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "firmware/acpi.h"
#include "firmware/guest_layout.h"
#include "kernel/base/result.h"

namespace heca::firmware {

struct GuestWrite {
  std::uint64_t gpa = 0;
  std::vector<std::uint8_t> bytes;
};

// A freestanding 64-bit image copied as-is; entry == load_gpa. Must load at or above 1 MiB.
struct FlatImage {
  std::span<const std::uint8_t> image;
  std::uint64_t load_gpa = kKernelLoadAddr;
};

struct LinuxImage {
  std::span<const std::uint8_t> bzimage;
  std::span<const std::uint8_t> initrd;  // empty: no initrd
};

struct BootRequest {
  std::vector<RamRange> ram;  // from pc_ram_layout()
  AcpiConfig acpi;
  std::string cmdline;
  std::variant<FlatImage, LinuxImage> image;
};

struct BootPlan {
  std::vector<GuestWrite> writes;  // GDT, page tables, boot_params, cmdline, ACPI, image, initrd
  std::uint64_t entry_rip = 0;     // FlatImage: load_gpa; Linux: kKernelLoadAddr + 0x200 (64-bit entry)
  std::uint64_t boot_params_gpa = kBootParamsAddr;  // goes in RSI
};

// Errors (each names the problem): image does not fit in RAM, cmdline too long, initrd does not fit
// below initrd_addr_max / RAM end (placed page-aligned as high as allowed), bad bzImage (parse_bzimage's error).
[[nodiscard]] Result<BootPlan> plan_boot(const BootRequest& request);

}  // namespace heca::firmware

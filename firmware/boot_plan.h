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

// How application processors are started.
enum class ApStartup : std::uint8_t {
  kByImage,        // Linux: kWakeupMailbox; a flat image: kInitSipi
  kInitSipi,       // APs wait for INIT-SIPI-SIPI
  kWakeupMailbox,  // APs park in the AP wakeup firmware (ap_wakeup.h); the MADT points at its mailbox
};

struct BootRequest {
  std::vector<RamRange> ram;  // from pc_ram_layout()
  AcpiConfig acpi;            // its mp_wakeup_mailbox_gpa is set by plan_boot()
  std::string cmdline;
  std::variant<FlatImage, LinuxImage> image;
  ApStartup ap_startup = ApStartup::kByImage;
};

struct BootPlan {
  std::vector<GuestWrite> writes;  // GDT, page tables, boot_params, cmdline, ACPI, AP wakeup, image, initrd
  std::uint64_t entry_rip = 0;     // FlatImage: load_gpa; Linux: kKernelLoadAddr + 0x200 (64-bit entry)
  std::uint64_t boot_params_gpa = kBootParamsAddr;  // goes in RSI
  // Where APs start in 64-bit mode on the AP wakeup firmware's GDT and page tables, with RBX =
  // their APIC id (ApWakeupLayout::kParkCode). 0: APs wait for INIT-SIPI-SIPI.
  std::uint64_t ap_entry_rip = 0;
};

// Errors (each names the problem): image does not fit in RAM, cmdline too long, initrd does not fit
// below initrd_addr_max / RAM end (placed page-aligned as high as allowed), bad bzImage (parse_bzimage's error).
[[nodiscard]] Result<BootPlan> plan_boot(const BootRequest& request);

}  // namespace heca::firmware

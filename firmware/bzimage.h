// Parsing and validation of a Linux bzImage for the 64-bit boot protocol.
// The result views into the caller's file bytes; nothing is copied.
#pragma once

#include <cstdint>
#include <span>

#include "kernel/base/result.h"

namespace heca::firmware {

struct BzImage {
  std::uint16_t protocol_version = 0;   // e.g. 0x020f
  std::uint8_t setup_sects = 0;         // after the "0 means 4" rule
  std::span<const std::uint8_t> setup;  // real-mode part incl. the setup header (first (setup_sects+1)*512 bytes)
  std::span<const std::uint8_t> kernel; // protected-mode part, loaded at kKernelLoadAddr
  std::uint32_t init_size = 0;
  std::uint32_t initrd_addr_max = 0;
  std::uint32_t cmdline_size = 0;
  std::uint16_t xloadflags = 0;
  // Where a relocatable kernel decompresses itself when loaded lower (protocol 2.10+).
  std::uint64_t pref_address = 0;
};

// Validates: size, boot-sector 0xAA55 and "HdrS" magic, protocol >= 2.12 (needed for XLF_KERNEL_64),
// XLF_KERNEL_64 set, setup_sects sane, kernel part non-empty and inside the file. One clear error each.
[[nodiscard]] Result<BzImage> parse_bzimage(std::span<const std::uint8_t> file);

}  // namespace heca::firmware

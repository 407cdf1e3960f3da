// The flat test guest image (load and entry at firmware::kKernelLoadAddr), embedded in
// the heca binary so `heca run --guest test` needs no file.
#pragma once

#include <cstdint>
#include <span>

namespace heca::firmware {

// The bytes to place at kKernelLoadAddr; entry is the first byte (64-bit boot protocol).
[[nodiscard]] std::span<const std::uint8_t> test_guest_image();

}  // namespace heca::firmware

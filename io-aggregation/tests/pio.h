// Byte-wide port I/O on an IoBus, for device tests. A failed access stops the test binary.
#pragma once

#include <array>
#include <cstdint>

#include "io-aggregation/io_bus.h"
#include "kernel/base/check.h"

namespace heca::io::testing {

inline void pio_out8(IoBus& bus, std::uint16_t port, std::uint8_t value) {
  const std::array<std::uint8_t, 1> data{value};
  HECA_CHECK(bus.write(AddressSpace::kPio, port, data));
}

inline std::uint8_t pio_in8(IoBus& bus, std::uint16_t port) {
  std::array<std::uint8_t, 1> data{};
  HECA_CHECK(bus.read(AddressSpace::kPio, port, data));
  return data[0];
}

}  // namespace heca::io::testing

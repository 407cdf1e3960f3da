// IoDevice: the interface every port-I/O or MMIO device model implements.
// The IoBus calls it with offsets relative to the base the device was registered at.
#pragma once

#include <cstdint>
#include <span>

namespace heca::io {

// THREADS: read() and write() may be called concurrently from any vCPU thread.
// A device that keeps state synchronises internally.
class IoDevice {
 public:
  virtual ~IoDevice() = default;

  // Fills `data` (its size is the access width, usually 1, 2, 4 or 8 bytes).
  virtual void read(std::uint64_t offset, std::span<std::uint8_t> data) = 0;
  virtual void write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
};

}  // namespace heca::io

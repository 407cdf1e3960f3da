// VmOps: what a vCPU's run loop calls for the exits it cannot handle itself (PIO, MMIO).
// The KVM layer sees only this interface, never a device model or the I/O bus.
#pragma once

#include <cstdint>
#include <span>

namespace heca::vmm {

// THREADS: called concurrently from every vCPU thread; implementations synchronise.
class VmOps {
 public:
  virtual ~VmOps() = default;

  // Fill `data` (1, 2 or 4 bytes) with what a read of `port` returns.
  virtual void pio_read(std::uint16_t port, std::span<std::uint8_t> data) = 0;
  virtual void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) = 0;
  // Fill `data` (1 to 8 bytes) with what a read of guest-physical `gpa` returns.
  virtual void mmio_read(std::uint64_t gpa, std::span<std::uint8_t> data) = 0;
  virtual void mmio_write(std::uint64_t gpa, std::span<const std::uint8_t> data) = 0;
};

}  // namespace heca::vmm

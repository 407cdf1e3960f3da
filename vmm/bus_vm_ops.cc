#include "vmm/bus_vm_ops.h"

#include <algorithm>

namespace heca::vmm {

void BusVmOps::pio_read(std::uint16_t port, std::span<std::uint8_t> data) {
  if (!bus_.read(io::AddressSpace::kPio, port, data)) {
    unclaimed_read(io::AddressSpace::kPio, port, data);
  }
}

void BusVmOps::pio_write(std::uint16_t port, std::span<const std::uint8_t> data) {
  if (!bus_.write(io::AddressSpace::kPio, port, data)) {
    unclaimed_write(io::AddressSpace::kPio, port, data);
  }
}

void BusVmOps::mmio_read(std::uint64_t gpa, std::span<std::uint8_t> data) {
  if (!bus_.read(io::AddressSpace::kMmio, gpa, data)) {
    unclaimed_read(io::AddressSpace::kMmio, gpa, data);
  }
}

void BusVmOps::mmio_write(std::uint64_t gpa, std::span<const std::uint8_t> data) {
  if (!bus_.write(io::AddressSpace::kMmio, gpa, data)) {
    unclaimed_write(io::AddressSpace::kMmio, gpa, data);
  }
}

UnclaimedIoStats BusVmOps::unclaimed() const {
  return {pio_reads_.load(), pio_writes_.load(), mmio_reads_.load(), mmio_writes_.load()};
}

void BusVmOps::unclaimed_read(io::AddressSpace space, std::uint64_t addr,
                              std::span<std::uint8_t> data) {
  auto& counter = space == io::AddressSpace::kPio ? pio_reads_ : mmio_reads_;
  counter.fetch_add(1, std::memory_order_relaxed);
  if (forwarder_.read && forwarder_.read(space, addr, data)) return;
  std::fill(data.begin(), data.end(), std::uint8_t{0xFF});
}

void BusVmOps::unclaimed_write(io::AddressSpace space, std::uint64_t addr,
                               std::span<const std::uint8_t> data) {
  auto& counter = space == io::AddressSpace::kPio ? pio_writes_ : mmio_writes_;
  counter.fetch_add(1, std::memory_order_relaxed);
  // A write the I/O node did not take is counted and stops the guest in the forwarder (a
  // lost link), so nothing is left to do with the result here.
  if (forwarder_.write) forwarder_.write(space, addr, data);
}

}  // namespace heca::vmm

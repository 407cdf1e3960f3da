// BusVmOps: the VmOps that routes PIO/MMIO exits to this node's io::IoBus.
// Accesses no local device claims end in unclaimed_read/unclaimed_write: the I/O-forwarding seam.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>

#include "io-aggregation/io_bus.h"
#include "vmm/vm_ops.h"

namespace heca::vmm {

struct UnclaimedIoStats {
  std::uint64_t pio_reads = 0;
  std::uint64_t pio_writes = 0;
  std::uint64_t mmio_reads = 0;
  std::uint64_t mmio_writes = 0;
};

// THREADS: called from every vCPU thread; the bus is immutable once vCPUs run and the
// counters are atomic, so no lock is taken here.
class BusVmOps final : public VmOps {
 public:
  explicit BusVmOps(const io::IoBus& bus) : bus_(bus) {}

  void pio_read(std::uint16_t port, std::span<std::uint8_t> data) override;
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) override;
  void mmio_read(std::uint64_t gpa, std::span<std::uint8_t> data) override;
  void mmio_write(std::uint64_t gpa, std::span<const std::uint8_t> data) override;

  [[nodiscard]] UnclaimedIoStats unclaimed() const;

  // Where unclaimed accesses go on a compute node: the I/O node. A forward returns false when
  // the access did not complete (the node then stops its guest); reads then float to all-ones.
  // Set before any vCPU runs.
  struct Forwarder {
    std::function<bool(io::AddressSpace, std::uint64_t, std::span<std::uint8_t>)> read;
    std::function<bool(io::AddressSpace, std::uint64_t, std::span<const std::uint8_t>)> write;
  };
  void set_forwarder(Forwarder forwarder) { forwarder_ = std::move(forwarder); }

 private:
  // An access no local device claims. Today: the PC default (reads float to all-ones,
  // writes are dropped). A compute node forwards it to the I/O node here instead.
  void unclaimed_read(io::AddressSpace space, std::uint64_t addr, std::span<std::uint8_t> data);
  void unclaimed_write(io::AddressSpace space, std::uint64_t addr,
                       std::span<const std::uint8_t> data);

  const io::IoBus& bus_;
  Forwarder forwarder_;  // INVARIANT: fixed before vCPUs run
  std::atomic<std::uint64_t> pio_reads_{0};
  std::atomic<std::uint64_t> pio_writes_{0};
  std::atomic<std::uint64_t> mmio_reads_{0};
  std::atomic<std::uint64_t> mmio_writes_{0};
};

}  // namespace heca::vmm

// IoapicWindow: the I/O node's in-kernel IOAPIC, reachable by vCPUs of other nodes.
//
// Devices raise their interrupts on the I/O node's IOAPIC, so that is the one the guest must
// program, from whichever node its CPU runs on. A node without the I/O role therefore moves
// its own in-kernel IOAPIC out of the way (relocate_ioapic_away): KVM then hands every access
// to the IOAPIC page to userspace, where it is forwarded like any unclaimed access. On the I/O
// node those accesses reach this device, which plays the IOAPIC's register window (IOREGSEL
// at 0x00, IOWIN at 0x10) on the in-kernel IOAPIC's state. The I/O node's own vCPUs go to the
// in-kernel IOAPIC directly, with its own select register; the guest's IOAPIC lock keeps each
// select-and-access pair together either way.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "io-aggregation/io_device.h"
#include "kernel/base/result.h"

namespace heca::vmm::node {

inline constexpr std::uint64_t kIoapicBase = 0xFEC0'0000;
inline constexpr std::uint64_t kIoapicWindowSize = 0x20;  // IOREGSEL .. IOWIN + 4
inline constexpr std::uint32_t kIoapicPins = 24;           // KVM's IOAPIC

// Where a node without the I/O role puts its in-kernel IOAPIC: not a guest-visible address
// (KVM keeps the device registered at the default base and refuses accesses outside
// [base, base + 0x100), which then exit to userspace).
inline constexpr std::uint64_t kIoapicParkedBase = 0xFFFF'FFFF'FFFF'F000;

struct IoapicAccess {
  std::function<Result<kvm_ioapic_state>()> get;
  std::function<Status(const kvm_ioapic_state&)> set;
};

// THREADS: read() and write() from any thread (the I/O server's); one mutex.
class IoapicWindow final : public io::IoDevice {
 public:
  explicit IoapicWindow(IoapicAccess access) : access_(std::move(access)) {}

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Pure register semantics on a state (also used by the unit tests).
  [[nodiscard]] static std::uint32_t read_register(const kvm_ioapic_state& state,
                                                   std::uint32_t index);
  // False: the register is read-only or does not exist (the write is dropped).
  static bool write_register(kvm_ioapic_state& state, std::uint32_t index, std::uint32_t value);

 private:
  IoapicAccess access_;
  std::mutex mu_;
  std::uint32_t select_ = 0;  // GUARDED_BY(mu_)
};

// On a node without the I/O role: moves the in-kernel IOAPIC to kIoapicParkedBase, so guest
// accesses to kIoapicBase exit to userspace (and are forwarded to the I/O node).
[[nodiscard]] Status relocate_ioapic_away(const IoapicAccess& access);

}  // namespace heca::vmm::node

// ProxyFirmware: the node-private memslot in which proxy vCPUs park: code, IDT, page tables,
// and per-proxy GDT, TSS and stack. Proxies stand in for vCPUs that run on other nodes.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>

#include "kernel/base/mapping.h"
#include "kernel/base/result.h"
#include "vmm/kvm/vm_fd.h"

namespace heca::vmm::proxy {

// The area sits at 512 GiB: above any guest RAM heca builds and outside the guest's e820,
// so no memslot overlaps it and a well-behaved guest never touches it.
inline constexpr std::uint64_t kProxyAreaGpa = 0x80'0000'0000;
// Every proxy report is a 32-bit OUT to this port. Only ProxyVcpu sees these exits.
inline constexpr std::uint16_t kProxyPort = 0x05F0;

// A report is kReportMagic | kind << 8 | vector.
inline constexpr std::uint32_t kReportMagic = 0x5058'0000;
enum class ReportKind : std::uint8_t { kInterrupt = 1, kNmi = 2, kFault = 3, kSpurious = 4 };

// The spurious vector programmed into each proxy's SVR; its stub reports kSpurious.
inline constexpr std::uint8_t kSpuriousVector = 0xFF;

struct DecodedReport {
  ReportKind kind;
  std::uint8_t vector;
};
// The report carried by a 32-bit OUT to kProxyPort; an error for anything else.
[[nodiscard]] Result<DecodedReport> decode_report(std::uint32_t value);

// Layout of the area (offsets from kProxyAreaGpa). Code, stubs, IDT and page tables are
// shared; each proxy slot holds its own GDT, TSS and stack, since proxies run concurrently.
struct ProxyLayout {
  static constexpr std::uint64_t kParkEntry = 0x0000;  // SVR enable, then the park loop
  static constexpr std::uint64_t kStubs = 0x1000;      // 256 stubs of kStubSize bytes
  static constexpr std::uint64_t kStubSize = 32;
  static constexpr std::uint64_t kIdt = 0x3000;
  static constexpr std::uint64_t kPml4 = 0x4000;
  static constexpr std::uint64_t kPdpt = 0x5000;
  static constexpr std::uint64_t kPd = 0x6000;
  // An identity map of guest-physical 0..4 GiB (2 MiB pages) under the same PML4: the owned
  // APs of a node park on it in the ACPI wakeup firmware. A nested page walk treats the tables
  // it reads as written, so page tables in coherent guest RAM that parked APs of several nodes
  // walk would move between the nodes at each walk; these are private to the node.
  static constexpr std::uint64_t kLowPdpt = 0x7000;
  static constexpr std::uint64_t kLowPd = 0x8000;  // 4 page directories
  static constexpr std::uint64_t kSlots = 0xC000;
  static constexpr std::uint64_t kSlotSize = 0x4000;  // GDT at +0, TSS at +kTss, stack above
  static constexpr std::uint64_t kTss = 0x80;
  static constexpr std::uint64_t kGdtBytes = 5 * 8;  // null, code, data, 16-byte TSS
  static constexpr std::uint16_t kCodeSelector = 0x08;
  static constexpr std::uint16_t kDataSelector = 0x10;
  static constexpr std::uint16_t kTssSelector = 0x18;
};

// Owns the host memory of the area. Thread-safety: immutable after create(); proxies only
// write their own slot's stack.
class ProxyFirmware {
 public:
  // Builds the area for `proxy_slots` proxies and registers it as memslot `memslot` of `vm`.
  [[nodiscard]] static Result<ProxyFirmware> create(VmFd& vm, std::uint32_t memslot,
                                                    std::uint32_t proxy_slots);

  [[nodiscard]] std::uint32_t slot_count() const { return slot_count_; }
  [[nodiscard]] std::uint64_t size() const { return area_.size(); }
  // Long-mode sregs for proxy slot `slot`, based on `current` (keeps KVM's other fields).
  [[nodiscard]] kvm_sregs park_sregs(kvm_sregs current, std::uint32_t slot) const;
  // Registers that start slot `slot` at the park entry with an empty stack.
  [[nodiscard]] kvm_regs park_regs(std::uint32_t slot) const;
  // CR3 for this node's APs parked in the ACPI wakeup firmware (ProxyLayout::kLowPdpt).
  [[nodiscard]] static constexpr std::uint64_t ap_park_cr3() {
    return kProxyAreaGpa + ProxyLayout::kPml4;
  }
  // The area's bytes (for tests).
  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return area_.bytes(); }

 private:
  ProxyFirmware(Mapping area, std::uint32_t slot_count)
      : area_(std::move(area)), slot_count_(slot_count) {}
  Mapping area_;
  std::uint32_t slot_count_ = 0;
};

// The area's contents for `proxy_slots` proxies, as they are placed at kProxyAreaGpa.
// Pure, so the generated code and tables are unit-tested without KVM.
void build_proxy_area(std::span<std::uint8_t> area, std::uint32_t proxy_slots);
// The area size for `proxy_slots` proxies: whole 2 MiB pages, at most 1 GiB.
[[nodiscard]] std::uint64_t proxy_area_size(std::uint32_t proxy_slots);

}  // namespace heca::vmm::proxy

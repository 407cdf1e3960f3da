// What a vCPU needs to start in 64-bit mode under the Linux 64-bit boot protocol:
// identity-mapping page tables, a boot GDT, and decoding of GDT entries into KVM segment fields.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace heca::firmware {

// Identity map of the first 4 GiB with 2 MiB pages: PML4 at kPml4Addr, PDPT at kPdptAddr, 4 PDs from kPdAddr.
// Every entry present | writable | user (so test guests may run ring-3 code on it).
// Returns the bytes to place at kPml4Addr (PML4, PDPT and PDs laid out contiguously: 6 pages).
[[nodiscard]] std::vector<std::uint8_t> build_identity_page_tables();

// GDT placed at kGdtAddr: [0] null, [1] null, [2] 64-bit code (selector kBootCs = 0x10), [3] data (kBootDs = 0x18).
[[nodiscard]] std::array<std::uint64_t, 4> build_boot_gdt();

// The descriptor fields a VMM needs for KVM segment registers, decoded from a GDT entry.
// `limit` is in bytes (scaled by 4 KiB when g is set), as KVM's kvm_segment expects;
// `type` is the 4-bit type field; dpl0 is true when the descriptor privilege level is 0.
struct SegmentDescriptor {
  std::uint64_t base;
  std::uint32_t limit;
  std::uint8_t type;
  bool present, dpl0, db, s, l, g;
};
[[nodiscard]] SegmentDescriptor decode_gdt_entry(std::uint64_t entry);

}  // namespace heca::firmware

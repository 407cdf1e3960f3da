// What a vCPU needs to start in 64-bit mode under the Linux 64-bit boot protocol:
// identity-mapping page tables, a boot GDT, and decoding of GDT entries into KVM segment fields.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "firmware/guest_layout.h"

namespace heca::firmware {

// Identity map of the first 4 GiB with 2 MiB pages, laid out contiguously from `pml4_gpa`: the
// PML4, then the PDPT, then 4 PDs (6 pages). Every entry is present | writable, and also user
// when `user` is set (the boot tables at kPml4Addr are, so test guests may run ring-3 code).
// Returns the bytes to place at `pml4_gpa`.
[[nodiscard]] std::vector<std::uint8_t> build_identity_page_tables(std::uint64_t pml4_gpa = kPml4Addr,
                                                                   bool user = true);

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

#include "firmware/long_mode.h"

#include "firmware/guest_layout.h"
#include "firmware/le_bytes.h"

namespace heca::firmware {
namespace {

constexpr std::uint64_t kPresent = 1u << 0;
constexpr std::uint64_t kWritable = 1u << 1;
constexpr std::uint64_t kUser = 1u << 2;
constexpr std::uint64_t kLargePage = 1u << 7;
constexpr std::uint64_t kLargePageSize = 2u << 20;
constexpr std::size_t kPageDirectories = 4;  // one per GiB
constexpr std::size_t kEntriesPerTable = kPageSize / sizeof(std::uint64_t);

// INVARIANT: the tables are contiguous, so one buffer placed at kPml4Addr holds them all.
static_assert(kPdptAddr == kPml4Addr + kPageSize);
static_assert(kPdAddr == kPdptAddr + kPageSize);

}  // namespace

std::vector<std::uint8_t> build_identity_page_tables(std::uint64_t pml4_gpa, bool user) {
  const std::uint64_t table_flags = kPresent | kWritable | (user ? kUser : 0);
  const std::uint64_t pdpt_gpa = pml4_gpa + kPageSize;
  const std::uint64_t pd_gpa = pdpt_gpa + kPageSize;
  std::vector<std::uint8_t> bytes((2 + kPageDirectories) * kPageSize, 0);
  const std::span<std::uint8_t> pml4 = std::span(bytes).first(kPageSize);
  const std::span<std::uint8_t> pdpt = std::span(bytes).subspan(kPageSize, kPageSize);
  const std::span<std::uint8_t> pds = std::span(bytes).subspan(2 * kPageSize);
  put_le<std::uint64_t>(pml4, 0, pdpt_gpa | table_flags);
  for (std::size_t i = 0; i < kPageDirectories; ++i) {
    put_le<std::uint64_t>(pdpt, i * 8, (pd_gpa + i * kPageSize) | table_flags);
  }
  for (std::size_t i = 0; i < kPageDirectories * kEntriesPerTable; ++i) {
    put_le<std::uint64_t>(pds, i * 8, (i * kLargePageSize) | table_flags | kLargePage);
  }
  return bytes;
}

std::array<std::uint64_t, 4> build_boot_gdt() {
  // Flat descriptors, limit 0xfffff with 4 KiB granularity, DPL 0, accessed bit set.
  constexpr std::uint64_t kCode64 = 0x00af'9b00'0000'ffff;  // P, S, execute/read, L, G
  constexpr std::uint64_t kData = 0x00cf'9300'0000'ffff;    // P, S, read/write, D/B, G
  return {0, 0, kCode64, kData};
}

SegmentDescriptor decode_gdt_entry(std::uint64_t entry) {
  const auto bit = [entry](unsigned n) { return ((entry >> n) & 1) != 0; };
  const std::uint64_t base = ((entry >> 16) & 0xff'ffff) | (((entry >> 56) & 0xff) << 24);
  std::uint32_t limit = static_cast<std::uint32_t>((entry & 0xffff) | (((entry >> 48) & 0xf) << 16));
  const bool g = bit(55);
  if (g) limit = (limit << 12) | 0xfff;
  return SegmentDescriptor{
      .base = base,
      .limit = limit,
      .type = static_cast<std::uint8_t>((entry >> 40) & 0xf),
      .present = bit(47),
      .dpl0 = ((entry >> 45) & 0x3) == 0,
      .db = bit(54),
      .s = bit(44),
      .l = bit(53),
      .g = g,
  };
}

}  // namespace heca::firmware

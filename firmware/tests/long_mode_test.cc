#include "firmware/long_mode.h"

#include <gtest/gtest.h>

#include "firmware/guest_layout.h"
#include "firmware/le_bytes.h"

namespace heca::firmware {
namespace {

constexpr std::uint64_t kPresentWritableUser = 0x7;
constexpr std::uint64_t kLargePage = 0x80;

std::uint64_t entry_at(const std::vector<std::uint8_t>& tables, std::uint64_t gpa) {
  return get_le<std::uint64_t>(std::span<const std::uint8_t>(tables), gpa - kPml4Addr);
}

TEST(IdentityPageTables, AreSixContiguousPages) {
  EXPECT_EQ(build_identity_page_tables().size(), 6 * kPageSize);
}

TEST(IdentityPageTables, Pml4PointsAtPdpt) {
  const auto tables = build_identity_page_tables();

  EXPECT_EQ(entry_at(tables, kPml4Addr), kPdptAddr | kPresentWritableUser);
  EXPECT_EQ(entry_at(tables, kPml4Addr + 8), 0u);
}

TEST(IdentityPageTables, PdptPointsAtFourPageDirectories) {
  const auto tables = build_identity_page_tables();

  EXPECT_EQ(entry_at(tables, kPdptAddr), kPdAddr | kPresentWritableUser);
  EXPECT_EQ(entry_at(tables, kPdptAddr + 3 * 8), (kPdAddr + 3 * kPageSize) | kPresentWritableUser);
  EXPECT_EQ(entry_at(tables, kPdptAddr + 4 * 8), 0u);
}

TEST(IdentityPageTables, LastLargePageMapsJustBelowFourGiB) {
  const auto tables = build_identity_page_tables();

  const std::uint64_t last_pd_entry = kPdAddr + 4 * kPageSize - 8;
  EXPECT_EQ(entry_at(tables, last_pd_entry), 0xFFE0'0000 | kLargePage | kPresentWritableUser);
}

TEST(BootGdt, CodeSegmentIsLongModeRing0) {
  const auto code = decode_gdt_entry(build_boot_gdt()[kBootCs / 8]);

  EXPECT_TRUE(code.present);
  EXPECT_TRUE(code.l);
  EXPECT_FALSE(code.db);
  EXPECT_TRUE(code.dpl0);
  EXPECT_TRUE(code.s);
  EXPECT_EQ(code.type, 0xb);
}

TEST(BootGdt, DataSegmentIsFlatWritable) {
  const auto data = decode_gdt_entry(build_boot_gdt()[kBootDs / 8]);

  EXPECT_TRUE(data.present);
  EXPECT_EQ(data.base, 0u);
  EXPECT_EQ(data.limit, 0xffff'ffffu);
  EXPECT_TRUE(data.g);
  EXPECT_TRUE(data.db);
  EXPECT_EQ(data.type, 0x3);
}

TEST(DecodeGdtEntry, SplitsBaseAndByteGranularLimit) {
  // base 0x12345678, limit 0x0abcd, byte granularity; access byte 0xf2: present, DPL 3, S, type 2.
  const std::uint64_t entry = 0x1200'f234'5678'abcd;

  const auto seg = decode_gdt_entry(entry);

  EXPECT_EQ(seg.base, 0x1234'5678u);
  EXPECT_EQ(seg.limit, 0xabcdu);
  EXPECT_FALSE(seg.g);
  EXPECT_TRUE(seg.present);
  EXPECT_FALSE(seg.dpl0);
  EXPECT_EQ(seg.type, 0x2);
}

}  // namespace
}  // namespace heca::firmware

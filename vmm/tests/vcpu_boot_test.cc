#include "vmm/vcpu_boot.h"

#include <gtest/gtest.h>

#include "firmware/guest_layout.h"

namespace heca::vmm {
namespace {

TEST(LongModeSregs, CodeSegmentIsTheBootGdt64BitSegment) {
  const kvm_sregs sregs = long_mode_sregs({});

  EXPECT_EQ(sregs.cs.selector, firmware::kBootCs);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_EQ(sregs.cs.dpl, 0);
  EXPECT_EQ(sregs.cs.present, 1);
}

TEST(LongModeSregs, DataSegmentsUseTheBootDataSelector) {
  const kvm_sregs sregs = long_mode_sregs({});

  EXPECT_EQ(sregs.ds.selector, firmware::kBootDs);
  EXPECT_EQ(sregs.ss.selector, firmware::kBootDs);
  EXPECT_EQ(sregs.gs.selector, firmware::kBootDs);
}

TEST(LongModeSregs, PagingIsOnWithTheIdentityMap) {
  const kvm_sregs sregs = long_mode_sregs({});

  EXPECT_EQ(sregs.cr3, firmware::kPml4Addr);
  EXPECT_NE(sregs.cr0 & (1ULL << 31), 0u);            // PG
  EXPECT_NE(sregs.cr0 & 1ULL, 0u);                    // PE
  EXPECT_NE(sregs.cr4 & (1ULL << 5), 0u);             // PAE
  EXPECT_EQ(sregs.efer, (1ULL << 8) | (1ULL << 10));  // LME | LMA
}

TEST(LongModeSregs, GdtRegisterCoversTheFourBootEntries) {
  const kvm_sregs sregs = long_mode_sregs({});

  EXPECT_EQ(sregs.gdt.base, firmware::kGdtAddr);
  EXPECT_EQ(sregs.gdt.limit, 4 * 8 - 1);
}

}  // namespace
}  // namespace heca::vmm

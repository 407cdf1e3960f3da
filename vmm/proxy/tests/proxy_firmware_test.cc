// The proxy area's generated code and tables, checked byte for byte without KVM.
#include "vmm/proxy/proxy_firmware.h"

#include <gtest/gtest.h>

#include <vector>

#include "firmware/le_bytes.h"

namespace heca::vmm::proxy {
namespace {

using firmware::get_le;

std::vector<std::uint8_t> area_for(std::uint32_t slots) {
  std::vector<std::uint8_t> area(proxy_area_size(slots));
  build_proxy_area(area, slots);
  return area;
}

TEST(ProxyReport, DecodesKindAndVector) {
  const auto report = decode_report(kReportMagic | 1u << 8 | 0x41);

  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->kind, ReportKind::kInterrupt);
  EXPECT_EQ(report->vector, 0x41);
}

TEST(ProxyReport, RejectsValuesWithoutTheMagic) {
  EXPECT_FALSE(decode_report(0x0000'0141).has_value());
}

TEST(ProxyReport, RejectsUnknownKinds) {
  EXPECT_FALSE(decode_report(kReportMagic | 9u << 8).has_value());
}

TEST(ProxyArea, SizeIsWholeLargePages) {
  EXPECT_EQ(proxy_area_size(1), 2u << 20);
  EXPECT_EQ(proxy_area_size(600), 10u << 20);
}

TEST(ProxyArea, InterruptStubReportsThenEoisThenIretq) {
  const auto area = area_for(2);
  const std::size_t stub = ProxyLayout::kStubs + 0x40 * ProxyLayout::kStubSize;

  // mov $report, %eax
  EXPECT_EQ(area[stub], 0xB8);
  EXPECT_EQ(get_le<std::uint32_t>(area, stub + 1), kReportMagic | 1u << 8 | 0x40);
  // mov $kProxyPort, %dx; out %eax, %dx
  EXPECT_EQ(get_le<std::uint16_t>(area, stub + 7), kProxyPort);
  EXPECT_EQ(area[stub + 9], 0xEF);
  // mov $0x80B, %ecx (x2APIC EOI) ... wrmsr; iretq
  EXPECT_EQ(get_le<std::uint32_t>(area, stub + 11), 0x80Bu);
  EXPECT_EQ(area[stub + 21], 0x48);
  EXPECT_EQ(area[stub + 22], 0xCF);
}

TEST(ProxyArea, ExceptionStubReportsAFaultAndNeverReturns) {
  const auto area = area_for(1);
  const std::size_t stub = ProxyLayout::kStubs + 13 * ProxyLayout::kStubSize;

  EXPECT_EQ(get_le<std::uint32_t>(area, stub + 1), kReportMagic | 3u << 8 | 13);
  EXPECT_EQ(get_le<std::uint32_t>(area, stub + 10), 0xFCEB'F4FAu);  // cli; hlt; jmp
}

TEST(ProxyArea, NmiStubReportsNmiWithoutEoi) {
  const auto area = area_for(1);
  const std::size_t stub = ProxyLayout::kStubs + 2 * ProxyLayout::kStubSize;

  EXPECT_EQ(get_le<std::uint32_t>(area, stub + 1), kReportMagic | 2u << 8 | 2);
  EXPECT_EQ(get_le<std::uint16_t>(area, stub + 10), 0xCF48u);  // iretq right after the out
}

TEST(ProxyArea, IdtGatePointsAtItsStub) {
  const auto area = area_for(1);
  const std::size_t gate = ProxyLayout::kIdt + 0x41 * 16;
  const std::uint64_t low = get_le<std::uint64_t>(area, gate);
  const std::uint64_t high = get_le<std::uint64_t>(area, gate + 8);

  const std::uint64_t handler = (low & 0xFFFF) | ((low >> 48) << 16) | (high << 32);
  EXPECT_EQ(handler, kProxyAreaGpa + ProxyLayout::kStubs + 0x41 * ProxyLayout::kStubSize);
  EXPECT_EQ((low >> 16) & 0xFFFF, ProxyLayout::kCodeSelector);
  EXPECT_EQ((low >> 40) & 0xFF, 0x8Eu);
}

TEST(ProxyArea, PageTablesIdentityMapTheArea) {
  const auto area = area_for(1);

  const std::uint64_t pml4e = get_le<std::uint64_t>(area, ProxyLayout::kPml4 + 1 * 8);
  const std::uint64_t pdpte = get_le<std::uint64_t>(area, ProxyLayout::kPdpt);
  const std::uint64_t pde = get_le<std::uint64_t>(area, ProxyLayout::kPd);
  EXPECT_EQ(pml4e, kProxyAreaGpa + ProxyLayout::kPdpt + 3);
  EXPECT_EQ(pdpte, kProxyAreaGpa + ProxyLayout::kPd + 3);
  EXPECT_EQ(pde, kProxyAreaGpa + 0x83);
}

TEST(ProxyArea, ParkEntryEnablesTheLapicThenHalts) {
  const auto area = area_for(1);

  EXPECT_EQ(get_le<std::uint32_t>(area, 1), 0x80Fu);         // mov $SVR, %ecx
  EXPECT_EQ(get_le<std::uint32_t>(area, 6), 0x1FFu);         // mov $0x1FF, %eax
  EXPECT_EQ(get_le<std::uint32_t>(area, 14), 0xFCEB'F4FBu);  // sti; hlt; jmp
}

}  // namespace
}  // namespace heca::vmm::proxy

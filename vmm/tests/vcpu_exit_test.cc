#include "vmm/vcpu_exit.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <vector>

namespace heca::vmm {
namespace {

// A zeroed, page-sized stand-in for a vCPU's kvm_run mapping.
struct FakeRunPage {
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(4096);
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(bytes.data()); }
};

TEST(DecodeExit, PioOutPointsAtDataInsideThePage) {
  FakeRunPage page;
  page.run().exit_reason = KVM_EXIT_IO;
  page.run().io = {
      .direction = KVM_EXIT_IO_OUT, .size = 1, .port = 0x3F8, .count = 3, .data_offset = 1024};

  const VcpuExit exit = decode_exit(page.bytes);

  EXPECT_EQ(exit.kind, ExitKind::kIo);
  EXPECT_EQ(exit.addr, 0x3F8u);
  EXPECT_TRUE(exit.is_write);
  EXPECT_EQ(exit.data.data(), page.bytes.data() + 1024);
  EXPECT_EQ(exit.data.size(), 3u);
}

TEST(DecodeExit, PioDataOutsideThePageIsAnInternalError) {
  FakeRunPage page;
  page.run().exit_reason = KVM_EXIT_IO;
  page.run().io = {
      .direction = KVM_EXIT_IO_IN, .size = 4, .port = 0x501, .count = 2, .data_offset = 4092};

  const VcpuExit exit = decode_exit(page.bytes);

  EXPECT_EQ(exit.kind, ExitKind::kInternalError);
}

TEST(DecodeExit, MmioReadCarriesAddressAndLength) {
  FakeRunPage page;
  page.run().exit_reason = KVM_EXIT_MMIO;
  page.run().mmio.phys_addr = 0xFED0'0000;
  page.run().mmio.len = 4;
  page.run().mmio.is_write = 0;

  const VcpuExit exit = decode_exit(page.bytes);

  EXPECT_EQ(exit.kind, ExitKind::kMmio);
  EXPECT_EQ(exit.addr, 0xFED0'0000u);
  EXPECT_FALSE(exit.is_write);
  EXPECT_EQ(exit.data.size(), 4u);
}

TEST(DecodeExit, ShutdownIsTripleFault) {
  FakeRunPage page;
  page.run().exit_reason = KVM_EXIT_SHUTDOWN;

  EXPECT_EQ(decode_exit(page.bytes).kind, ExitKind::kShutdown);
}

TEST(DecodeExit, UnknownReasonIsKeptInDetail) {
  FakeRunPage page;
  page.run().exit_reason = 999;

  const VcpuExit exit = decode_exit(page.bytes);

  EXPECT_EQ(exit.kind, ExitKind::kUnknown);
  EXPECT_EQ(exit.detail, 999u);
}

TEST(ExitKindName, NamesEveryKind) {
  EXPECT_EQ(exit_kind_name(ExitKind::kIo), "io");
  EXPECT_EQ(exit_kind_name(ExitKind::kUnknown), "unknown");
}

}  // namespace
}  // namespace heca::vmm

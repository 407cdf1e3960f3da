#include "vmm/node/ioapic_window.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

namespace heca::vmm::node {
namespace {

constexpr std::uint64_t kSelect = 0x00;
constexpr std::uint64_t kWindow = 0x10;
constexpr std::uint64_t kMasked = 1ULL << 16;

// An IOAPIC state behind the accessors, as the I/O node's KVM would keep it.
struct FakeIoapic {
  kvm_ioapic_state state{};
  int sets = 0;
  bool fail = false;
  IoapicAccess access() {
    return {.get = [this]() -> Result<kvm_ioapic_state> {
              if (fail) return make_error("KVM_GET_IRQCHIP failed");
              return state;
            },
            .set = [this](const kvm_ioapic_state& s) -> Status {
              ++sets;
              state = s;
              return {};
            }};
  }
};

void put32(IoapicWindow& w, std::uint64_t offset, std::uint32_t value) {
  std::array<std::uint8_t, 4> bytes{};
  std::memcpy(bytes.data(), &value, 4);
  w.write(offset, bytes);
}

std::uint32_t get32(IoapicWindow& w, std::uint64_t offset) {
  std::array<std::uint8_t, 4> bytes{};
  w.read(offset, bytes);
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data(), 4);
  return value;
}

TEST(IoapicWindow, ProgramsARedirectionEntryThroughSelectAndWindow) {
  FakeIoapic kvm;
  for (auto& e : kvm.state.redirtbl) e.bits = kMasked;
  IoapicWindow window(kvm.access());

  put32(window, kSelect, 0x10 + 2 * 4 + 1);  // pin 4, high half: destination APIC id 1
  put32(window, kWindow, 1U << 24);
  put32(window, kSelect, 0x10 + 2 * 4);  // pin 4, low half: vector 0x24, unmasked
  put32(window, kWindow, 0x24);

  EXPECT_EQ(kvm.state.redirtbl[4].bits, (1ULL << 56) | 0x24);
  EXPECT_EQ(kvm.state.redirtbl[3].bits, kMasked);
  EXPECT_EQ(kvm.sets, 2);
  EXPECT_EQ(get32(window, kWindow), 0x24U);
  EXPECT_EQ(get32(window, kSelect), 0x18U);
}

TEST(IoapicWindow, KeepsTheBitsOnlyTheIoapicSets) {
  kvm_ioapic_state state{};
  state.redirtbl[9].bits = (1ULL << 14) | (1ULL << 12) | kMasked;  // remote IRR, delivery status

  ASSERT_TRUE(IoapicWindow::write_register(state, 0x10 + 2 * 9, 0x8029));  // level, vector 0x29

  EXPECT_EQ(state.redirtbl[9].bits, (1ULL << 14) | (1ULL << 12) | 0x8029);
}

TEST(IoapicWindow, ReportsKvmsVersionAndItsId) {
  kvm_ioapic_state state{};
  state.id = 2;

  EXPECT_EQ(IoapicWindow::read_register(state, 0x01), 0x00170011U);
  EXPECT_EQ(IoapicWindow::read_register(state, 0x00), 2U << 24);
  EXPECT_TRUE(IoapicWindow::write_register(state, 0x00, 5U << 24));
  EXPECT_EQ(state.id, 5U);
}

TEST(IoapicWindow, RegistersPastTheLastPinReadZeroAndDropWrites) {
  kvm_ioapic_state state{};

  EXPECT_EQ(IoapicWindow::read_register(state, 0x10 + 2 * kIoapicPins), 0U);
  EXPECT_FALSE(IoapicWindow::write_register(state, 0x10 + 2 * kIoapicPins, 1));
  EXPECT_FALSE(IoapicWindow::write_register(state, 0x01, 1));  // version is read-only
  EXPECT_FALSE(IoapicWindow::write_register(state, 0x05, 1));
}

TEST(IoapicWindow, AFailingKvmLosesTheWriteAndReadsAllOnes) {
  FakeIoapic kvm;
  kvm.fail = true;
  IoapicWindow window(kvm.access());

  put32(window, kSelect, 0x10);
  put32(window, kWindow, 0x30);

  EXPECT_EQ(kvm.sets, 0);
  EXPECT_EQ(get32(window, kWindow), 0xFFFF'FFFFU);
}

TEST(IoapicWindow, RelocationMovesOnlyTheBase) {
  FakeIoapic kvm;
  kvm.state.base_address = kIoapicBase;
  kvm.state.redirtbl[2].bits = 0x30;

  ASSERT_TRUE(relocate_ioapic_away(kvm.access()).has_value());

  EXPECT_EQ(kvm.state.base_address, kIoapicParkedBase);
  EXPECT_EQ(kvm.state.redirtbl[2].bits, 0x30U);
}

}  // namespace
}  // namespace heca::vmm::node

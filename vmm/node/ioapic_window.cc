#include "vmm/node/ioapic_window.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

namespace heca::vmm::node {
namespace {

constexpr std::uint32_t kRegisterId = 0x00;
constexpr std::uint32_t kRegisterVersion = 0x01;
constexpr std::uint32_t kRegisterArbitration = 0x02;
constexpr std::uint32_t kRegisterFirstEntry = 0x10;
// Version 0x11 with 24 redirection entries, as KVM's IOAPIC reports it.
constexpr std::uint32_t kVersionValue = 0x11U | ((kIoapicPins - 1) << 16);
// Set by the IOAPIC itself, not by the guest: delivery status (12) and remote IRR (14).
constexpr std::uint64_t kReadOnlyEntryBits = (1ULL << 12) | (1ULL << 14);
constexpr std::uint64_t kSelectOffset = 0x00;
constexpr std::uint64_t kWindowOffset = 0x10;

std::uint32_t load_u32(std::span<const std::uint8_t> data) {
  std::uint32_t value = 0;
  std::memcpy(&value, data.data(), std::min(data.size(), sizeof value));
  return value;
}

}  // namespace

std::uint32_t IoapicWindow::read_register(const kvm_ioapic_state& state, std::uint32_t index) {
  switch (index) {
    case kRegisterId:
    case kRegisterArbitration:
      return (state.id & 0xFU) << 24;
    case kRegisterVersion:
      return kVersionValue;
    default:
      break;
  }
  const std::uint32_t pin = (index - kRegisterFirstEntry) / 2;
  if (index < kRegisterFirstEntry || pin >= kIoapicPins) return 0;
  const std::uint64_t entry = state.redirtbl[pin].bits;
  return static_cast<std::uint32_t>((index & 1U) != 0 ? entry >> 32 : entry);
}

bool IoapicWindow::write_register(kvm_ioapic_state& state, std::uint32_t index,
                                  std::uint32_t value) {
  if (index == kRegisterId) {
    state.id = (value >> 24) & 0xFU;
    return true;
  }
  const std::uint32_t pin = (index - kRegisterFirstEntry) / 2;
  if (index < kRegisterFirstEntry || pin >= kIoapicPins) return false;
  const std::uint64_t entry = state.redirtbl[pin].bits;
  if ((index & 1U) != 0) {
    state.redirtbl[pin].bits = (entry & 0xFFFF'FFFFULL) | (std::uint64_t{value} << 32);
  } else {
    state.redirtbl[pin].bits = (entry & (0xFFFF'FFFF'0000'0000ULL | kReadOnlyEntryBits)) |
                               (std::uint64_t{value} & ~kReadOnlyEntryBits);
  }
  return true;
}

// Forwarded accesses are rare (the guest programs a pin when it sets an interrupt up or moves
// it), so each goes to KVM: a read is one KVM_GET_IRQCHIP, a write a get-modify-set. A pin
// whose interrupt arrives between the two keeps it: set_ioapic re-injects the IRR it read.
void IoapicWindow::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), std::uint8_t{0});
  std::lock_guard lock(mu_);
  std::uint32_t value = 0;
  if (offset == kSelectOffset) {
    value = select_;
  } else if (offset == kWindowOffset) {
    auto state = access_.get();
    if (!state) {
      spdlog::warn("IOAPIC read of register {:#x} for another node: {}", select_,
                state.error().message());
      value = 0xFFFF'FFFFU;
    } else {
      value = read_register(*state, select_);
    }
  }
  std::memcpy(data.data(), &value, std::min(data.size(), sizeof value));
}

void IoapicWindow::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  const std::uint32_t value = load_u32(data);
  std::lock_guard lock(mu_);
  if (offset == kSelectOffset) {
    select_ = value & 0xFFU;
    return;
  }
  if (offset != kWindowOffset) return;
  auto state = access_.get();
  if (state && write_register(*state, select_, value)) {
    if (auto s = access_.set(*state); !s) state = std::unexpected(s.error());
  }
  if (!state) {
    spdlog::warn("IOAPIC write of register {:#x} for another node lost: {}", select_,
              state.error().message());
  }
}

Status relocate_ioapic_away(const IoapicAccess& access) {
  auto state = access.get();
  if (!state) return std::unexpected(state.error());
  state->base_address = kIoapicParkedBase;
  return access.set(*state);
}

}  // namespace heca::vmm::node

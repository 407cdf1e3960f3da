#include "io-aggregation/reset_control.h"

#include <algorithm>
#include <utility>

#include "kernel/base/check.h"

namespace heca::io {
namespace {

constexpr std::uint8_t kUnclaimedByte = 0xff;
constexpr std::uint8_t kPulseCommandMask = 0xf0;  // 0xF0-0xFF: pulse the output lines
constexpr std::uint8_t kResetLine = 1u << 0;      // active low in the pulse mask

}  // namespace

ResetControlRegister::ResetControlRegister(ResetHandler on_reset) : on_reset_(std::move(on_reset)) {
  HECA_CHECK(on_reset_);
}

void ResetControlRegister::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::ranges::fill(data, kUnclaimedByte);
  if (offset != 0 || data.empty()) return;
  std::lock_guard lock(mu_);
  data[0] = value_;
}

void ResetControlRegister::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (offset != 0 || data.empty()) return;
  {
    std::lock_guard lock(mu_);
    value_ = data[0] & (kSystemReset | kFullReset);
  }
  if ((data[0] & kResetCpu) != 0) on_reset_();
}

I8042ResetPort::I8042ResetPort(ResetHandler on_reset) : on_reset_(std::move(on_reset)) {
  HECA_CHECK(on_reset_);
}

void I8042ResetPort::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::ranges::fill(data, kUnclaimedByte);
  if (offset == 0 && !data.empty()) data[0] = kStatus;
}

void I8042ResetPort::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (offset != 0 || data.empty()) return;
  const std::uint8_t command = data[0];
  const bool pulse = (command & kPulseCommandMask) == kPulseCommandMask;
  if (pulse && (command & kResetLine) == 0) on_reset_();
}

}  // namespace heca::io

#include "io-aggregation/acpi_pm.h"

#include <utility>

#include "kernel/base/check.h"

namespace heca::io {
namespace {

constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;
constexpr unsigned kTimerMsb = 31;

std::chrono::nanoseconds steady_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
}

// ns * kTimerHz / 1e9 without overflow for any uptime a host reaches.
std::uint64_t ticks_from_nanos(std::uint64_t ns) {
  const std::uint64_t seconds = ns / kNanosPerSecond;
  const std::uint64_t rest = ns % kNanosPerSecond;
  return seconds * AcpiPmDevice::kTimerHz + rest * AcpiPmDevice::kTimerHz / kNanosPerSecond;
}

std::uint8_t byte_of(std::uint32_t value, std::uint64_t index) {
  return static_cast<std::uint8_t>(value >> (8 * index));
}

// `reg` with byte `index` (0 or 1) replaced by `value`.
std::uint16_t with_byte(std::uint16_t reg, std::uint64_t index, std::uint8_t value) {
  const unsigned shift = index == 0 ? 0 : 8;
  const auto cleared = static_cast<std::uint16_t>(reg & ~(0xffu << shift));
  return static_cast<std::uint16_t>(cleared | (static_cast<unsigned>(value) << shift));
}

}  // namespace

AcpiPmDevice::AcpiPmDevice(std::uint8_t s5_sleep_type, PowerOffHandler on_power_off)
    : AcpiPmDevice(s5_sleep_type, std::move(on_power_off), steady_now) {}

AcpiPmDevice::AcpiPmDevice(std::uint8_t s5_sleep_type, PowerOffHandler on_power_off,
                           MonotonicClock clock)
    : s5_sleep_type_(s5_sleep_type),
      on_power_off_(std::move(on_power_off)),
      clock_(std::move(clock)),
      start_(clock_ ? clock_() : std::chrono::nanoseconds{0}) {
  HECA_CHECK(on_power_off_ && clock_);
  HECA_CHECK(s5_sleep_type_ <= (kSleepTypeMask >> kSleepTypeShift));
}

std::uint64_t AcpiPmDevice::timer_ticks() const {
  const std::chrono::nanoseconds elapsed = clock_() - start_;
  // A clock that steps back (only an injected one can) holds the timer instead of wrapping it.
  if (elapsed.count() <= 0) return 0;
  return ticks_from_nanos(static_cast<std::uint64_t>(elapsed.count()));
}

std::uint16_t AcpiPmDevice::status_register(std::uint64_t ticks) const {
  const bool msb_flipped = (ticks >> kTimerMsb) != (tmr_sts_cleared_ >> kTimerMsb);
  return msb_flipped ? kTmrStatus : 0;
}

std::uint16_t AcpiPmDevice::control_register() const {
  return static_cast<std::uint16_t>(control_ | kSciEnable);
}

std::uint8_t AcpiPmDevice::read_byte(std::uint64_t offset, std::uint64_t ticks) const {
  switch (offset) {
    case kPm1StatusOffset:
    case kPm1StatusOffset + 1:
      return byte_of(status_register(ticks), offset - kPm1StatusOffset);
    case kPm1EnableOffset:
    case kPm1EnableOffset + 1:
      return byte_of(enable_, offset - kPm1EnableOffset);
    case kPm1ControlOffset:
    case kPm1ControlOffset + 1:
      return byte_of(control_register(), offset - kPm1ControlOffset);
    case kPmTimerOffset:
    case kPmTimerOffset + 1:
    case kPmTimerOffset + 2:
    case kPmTimerOffset + 3:
      return byte_of(static_cast<std::uint32_t>(ticks), offset - kPmTimerOffset);
    default:
      return 0;
  }
}

bool AcpiPmDevice::write_byte(std::uint64_t offset, std::uint8_t value, std::uint64_t ticks) {
  switch (offset) {
    case kPm1StatusOffset:
      // Write 1 to clear; TMR_STS is the only status bit the model ever sets.
      if ((value & kTmrStatus) != 0) tmr_sts_cleared_ = ticks;
      return false;
    case kPm1EnableOffset:
    case kPm1EnableOffset + 1:
      enable_ = with_byte(enable_, offset - kPm1EnableOffset, value) & kEnableMask;
      return false;
    case kPm1ControlOffset:
    case kPm1ControlOffset + 1: {
      const std::uint16_t written = with_byte(control_, offset - kPm1ControlOffset, value);
      control_ = written & kControlMask;
      const auto sleep_type = static_cast<unsigned>((control_ & kSleepTypeMask) >> kSleepTypeShift);
      return (written & kSleepEnable) != 0 && sleep_type == s5_sleep_type_;
    }
    default:
      return false;  // PM1_STS high byte (nothing to clear), bytes 6-7, the read-only timer
  }
}

void AcpiPmDevice::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  const std::uint64_t ticks = timer_ticks();
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = read_byte(offset + i, ticks);
}

void AcpiPmDevice::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  const std::uint64_t ticks = timer_ticks();
  bool power_off = false;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < data.size(); ++i) {
      power_off = write_byte(offset + i, data[i], ticks) || power_off;
    }
  }
  if (power_off) on_power_off_();
}

}  // namespace heca::io

// AcpiPmDevice: the ACPI fixed-hardware PM block (PM1a event and control registers, PM timer)
// at the ports the FADT gives (firmware::AcpiConfig::pm_io_base); S5 + SLP_EN powers the guest off.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "io-aggregation/io_device.h"

namespace heca::io {

// Layout (offsets from the block's first port, matching firmware/acpi_tables.cc's FADT):
//   +0 PM1a_STS (16 bits, write 1 to clear)   +2 PM1a_EN (16 bits)
//   +4 PM1a_CNT (16 bits)                       +8 PM_TMR (32 bits, read-only)
// Every register is byte-addressable, so 1-, 2- and 4-byte accesses at any offset work; bytes
// 6-7 and writes to the timer are ignored and read as 0.
//
// PM1a_CNT: SCI_EN always reads 1 (the machine is always in ACPI mode; there is no SMI_CMD).
// A write with SLP_EN set and SLP_TYP == the \_S5 value (firmware::kAcpiS5SleepType) calls
// the power-off handler, once per such write; other sleep types are ignored (no S1-S4).
// SLP_EN and GBL_RLS read as 0.
// PM_TMR: 3.579545 MHz counting from the device's creation on the host's monotonic clock,
// 32 bits wide (the FADT sets TMR_VAL_EXT). PM1_STS.TMR_STS is set each time the timer's
// bit 31 flips. No event ever raises the SCI: the model has no interrupt line.
//
// THREADS: any vCPU thread. LOCKING: mu_ guards the registers; the power-off handler runs
// on the writing vCPU thread without mu_ held.
class AcpiPmDevice final : public IoDevice {
 public:
  static constexpr std::uint64_t kPortCount = 12;
  static constexpr std::uint64_t kPm1StatusOffset = 0;
  static constexpr std::uint64_t kPm1EnableOffset = 2;
  static constexpr std::uint64_t kPm1ControlOffset = 4;
  static constexpr std::uint64_t kPmTimerOffset = 8;
  static constexpr std::uint64_t kTimerHz = 3'579'545;

  // PM1_STS / PM1_EN bits.
  static constexpr std::uint16_t kTmrStatus = 1u << 0;
  // PM1_EN bits the guest may set: TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN, PCIEXP_WAKE_DIS.
  static constexpr std::uint16_t kEnableMask = 0x4721;
  // PM1_CNT bits.
  static constexpr std::uint16_t kSciEnable = 1u << 0;
  static constexpr std::uint16_t kGlobalRelease = 1u << 2;
  static constexpr unsigned kSleepTypeShift = 10;
  static constexpr std::uint16_t kSleepTypeMask = 7u << kSleepTypeShift;
  static constexpr std::uint16_t kSleepEnable = 1u << 13;
  // PM1_CNT bits kept as written: BM_RLD and SLP_TYP.
  static constexpr std::uint16_t kControlMask = (1u << 1) | kSleepTypeMask;

  using PowerOffHandler = std::function<void()>;
  // Monotonic time since an arbitrary fixed point; injectable so tests control the timer.
  using MonotonicClock = std::function<std::chrono::nanoseconds()>;

  AcpiPmDevice(std::uint8_t s5_sleep_type, PowerOffHandler on_power_off);
  AcpiPmDevice(std::uint8_t s5_sleep_type, PowerOffHandler on_power_off, MonotonicClock clock);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Timer ticks since creation, not truncated (the guest sees the low 32 bits).
  [[nodiscard]] std::uint64_t timer_ticks() const;

 private:
  std::uint16_t status_register(std::uint64_t ticks) const;
  std::uint16_t control_register() const;
  std::uint8_t read_byte(std::uint64_t offset, std::uint64_t ticks) const;
  // Returns true when the byte requests S5 (SLP_EN with SLP_TYP == the \_S5 value).
  bool write_byte(std::uint64_t offset, std::uint8_t value, std::uint64_t ticks);

  const std::uint8_t s5_sleep_type_;
  const PowerOffHandler on_power_off_;
  const MonotonicClock clock_;
  const std::chrono::nanoseconds start_;

  mutable std::mutex mu_;
  std::uint64_t tmr_sts_cleared_ = 0;  // GUARDED_BY(mu_), ticks when TMR_STS was last cleared
  std::uint16_t enable_ = 0;           // GUARDED_BY(mu_), within kEnableMask
  std::uint16_t control_ = 0;          // GUARDED_BY(mu_), within kControlMask
};

}  // namespace heca::io

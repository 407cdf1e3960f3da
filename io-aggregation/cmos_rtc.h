// CmosRtc: the MC146818-style real-time clock and CMOS RAM behind ports 0x70 (index) / 0x71 (data).
// The clock registers show the host's wall clock in UTC; the guest cannot set or slow it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

#include "io-aggregation/io_device.h"

namespace heca::io {

// Register it at kBasePort with kPortCount ports. Offset 0 selects a register (bit 7, the
// NMI mask on a PC, is ignored; reads of it return 0xFF as on hardware, where it is
// write-only); offset 1 reads or writes the selected one. Wider accesses are handled byte
// by byte from offset upwards.
//
// Registers:
// - 0x00/0x02/0x04 seconds/minutes/hours, 0x06 day of week (1 = Sunday), 0x07 day,
//   0x08 month, 0x09 year in the century, 0x32 century: computed at each read from the
//   host's UTC clock, in BCD or binary (register B's DM bit) and 24- or 12-hour (its 24/12
//   bit; 12-hour marks PM with bit 7). Writes to them are ignored: the guest's clock always
//   follows the host's.
// - 0x0A (A): UIP always 0 (a read never sees an update in progress); the divider and rate
//   bits are kept as written (default 0x26: 32.768 kHz, 1024 Hz).
// - 0x0B (B): kept as written (default 0x02: 24-hour, BCD).
// - 0x0C (C): always 0. No interrupt ever fires: periodic, alarm and update interrupts are
//   not modelled and IRQ 8 is never raised.
// - 0x0D (D): always 0x80 (VRT: the battery is fine).
// - everything else, including the alarm registers and the memory-size bytes 0x30/0x31/
//   0x34/0x35, is plain RAM, initially 0.
//
// THREADS: any vCPU thread. LOCKING: mu_ guards the index and the RAM; the index and the
// following data access are separate exits, so vCPUs sharing the RTC must serialise
// themselves (as on hardware, where the guest kernel holds rtc_lock).
class CmosRtc final : public IoDevice {
 public:
  static constexpr std::uint16_t kBasePort = 0x70;
  static constexpr std::uint64_t kPortCount = 2;
  static constexpr std::size_t kRegisterCount = 128;

  static constexpr std::uint8_t kSeconds = 0x00;
  static constexpr std::uint8_t kMinutes = 0x02;
  static constexpr std::uint8_t kHours = 0x04;
  static constexpr std::uint8_t kDayOfWeek = 0x06;
  static constexpr std::uint8_t kDayOfMonth = 0x07;
  static constexpr std::uint8_t kMonth = 0x08;
  static constexpr std::uint8_t kYear = 0x09;
  static constexpr std::uint8_t kRegA = 0x0A;
  static constexpr std::uint8_t kRegB = 0x0B;
  static constexpr std::uint8_t kRegC = 0x0C;
  static constexpr std::uint8_t kRegD = 0x0D;
  static constexpr std::uint8_t kCentury = 0x32;

  static constexpr std::uint8_t kRegAUpdateInProgress = 0x80;
  static constexpr std::uint8_t kRegBBinary = 0x04;  // DM: 1 binary, 0 BCD
  static constexpr std::uint8_t kRegB24Hour = 0x02;
  static constexpr std::uint8_t kRegDValidRam = 0x80;
  static constexpr std::uint8_t kHourPm = 0x80;

  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  CmosRtc();
  // `clock` is injectable so tests choose the time.
  explicit CmosRtc(WallClock clock);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  std::uint8_t read_data(std::chrono::system_clock::time_point now) const;
  void write_data(std::uint8_t value);
  // The clock register `reg` at `now` in register B's format; nullopt if `reg` is not one.
  std::optional<std::uint8_t> clock_register(std::uint8_t reg,
                                             std::chrono::system_clock::time_point now) const;
  std::uint8_t encode(unsigned value) const;
  std::uint8_t encode_hour(unsigned hour) const;

  const WallClock clock_;

  mutable std::mutex mu_;
  std::uint8_t index_ = 0;                          // GUARDED_BY(mu_), < kRegisterCount
  std::array<std::uint8_t, kRegisterCount> ram_{};  // GUARDED_BY(mu_)
};

}  // namespace heca::io

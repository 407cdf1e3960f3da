// The two legacy ways a PC guest asks for a reset: the chipset's reset control register at
// port 0xCF9 and the i8042 keyboard controller's "pulse output line" command at port 0x64.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "io-aggregation/io_device.h"

namespace heca::io {

using ResetHandler = std::function<void()>;

// Port 0xCF9, one byte. A write with bit 2 (RST_CPU) set requests a reset; bits 1 (SYS_RST)
// and 3 (FULL_RST) are kept and read back, so the usual "write 0x02, then 0x06" works.
// Only the first byte of a wider access is the register (0xCF8 and 0xCFA-0xCFF are PCI
// configuration ports, not modelled here); other bytes read as 0xFF.
//
// THREADS: any vCPU thread. LOCKING: mu_ guards the register; the handler runs on the
// writing vCPU thread without mu_ held, once per reset write.
class ResetControlRegister final : public IoDevice {
 public:
  static constexpr std::uint16_t kPort = 0xCF9;
  static constexpr std::uint64_t kPortCount = 1;
  static constexpr std::uint8_t kSystemReset = 1u << 1;
  static constexpr std::uint8_t kResetCpu = 1u << 2;
  static constexpr std::uint8_t kFullReset = 1u << 3;

  explicit ResetControlRegister(ResetHandler on_reset);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  const ResetHandler on_reset_;
  std::mutex mu_;
  std::uint8_t value_ = 0;  // GUARDED_BY(mu_), SYS_RST and FULL_RST only
};

// Port 0x64 of an i8042 that has nothing attached. Reads return kStatus: output buffer empty
// (nothing to read at 0x60), input buffer empty (ready for a command), system flag set. A
// command 0xF0-0xFF pulses the output lines whose bits are clear; bit 0 is the CPU reset
// line, so 0xFE (and any even command in that range) requests a reset. Other commands are
// ignored; no byte is ever queued at 0x60, which this device does not claim.
//
// THREADS: stateless; the handler runs on the writing vCPU thread, once per reset command.
class I8042ResetPort final : public IoDevice {
 public:
  static constexpr std::uint16_t kPort = 0x64;
  static constexpr std::uint64_t kPortCount = 1;
  static constexpr std::uint8_t kPulseResetCommand = 0xFE;
  static constexpr std::uint8_t kStatus = 0x14;  // SYS (bit 2) | keyboard not inhibited (bit 4)

  explicit I8042ResetPort(ResetHandler on_reset);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  const ResetHandler on_reset_;
};

}  // namespace heca::io

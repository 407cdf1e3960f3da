// Uart8250: a 16550A-compatible serial port (8 byte-wide registers), the guest console.
// Transmitted bytes go to an output sink; host input is queued with push_input().
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string_view>

#include "io-aggregation/io_device.h"

namespace heca::io {

// The model transmits instantly, so LSR always reports THR empty and transmitter
// empty. Interrupts: receiver line status (overrun), received data and THR empty,
// reported by IIR in that priority order; modem-status interrupts never fire.
// MCR loopback is honoured: transmitted bytes come back as input and MSR mirrors
// the MCR outputs. OUT2 does not gate the IRQ line.
//
// THREADS: any vCPU thread and the console thread may call in concurrently.
// LOCKING: mu_ guards all state. The output sink and the IRQ callback run with mu_
// held, which keeps bytes and level changes in order; they must not call back
// into this Uart8250.
class Uart8250 final : public IoDevice {
 public:
  static constexpr std::uint64_t kRegisterCount = 8;
  // Host input beyond this many unread bytes is dropped and reported as an overrun.
  static constexpr std::size_t kRxCapacity = 4096;

  using OutputSink = std::function<void(std::string_view bytes)>;
  // Called only when the interrupt line changes level.
  using IrqLine = std::function<void(bool level)>;

  Uart8250(OutputSink output, IrqLine irq);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Queues bytes for the guest to read from RBR.
  void push_input(std::string_view bytes);

 private:
  std::uint8_t read_register(std::uint64_t reg);
  void write_register(std::uint64_t reg, std::uint8_t value);
  void transmit(std::uint8_t byte);
  void receive(std::uint8_t byte);
  void write_ier(std::uint8_t value);
  void write_fcr(std::uint8_t value);
  std::uint8_t read_rbr();
  std::uint8_t read_iir();
  std::uint8_t read_lsr();
  std::uint8_t read_msr() const;
  // The IIR interrupt id of the highest-priority pending interrupt (1 = none).
  std::uint8_t pending_interrupt() const;
  void update_irq();
  bool dlab() const;
  bool loopback() const;

  const OutputSink output_;
  const IrqLine irq_;

  std::mutex mu_;
  std::deque<std::uint8_t> rx_;  // GUARDED_BY(mu_), at most kRxCapacity bytes
  std::uint8_t ier_ = 0;         // GUARDED_BY(mu_)
  std::uint8_t lcr_ = 0;         // GUARDED_BY(mu_)
  std::uint8_t mcr_ = 0;         // GUARDED_BY(mu_)
  std::uint8_t scr_ = 0;         // GUARDED_BY(mu_)
  std::uint8_t dll_ = 0x0c;      // GUARDED_BY(mu_), 9600 baud
  std::uint8_t dlm_ = 0;         // GUARDED_BY(mu_)
  bool fifo_enabled_ = false;    // GUARDED_BY(mu_)
  bool thre_pending_ = false;    // GUARDED_BY(mu_)
  bool overrun_ = false;         // GUARDED_BY(mu_)
  bool irq_level_ = false;       // GUARDED_BY(mu_)
};

}  // namespace heca::io

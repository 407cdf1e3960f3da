#include "io-aggregation/uart_8250.h"

#include <utility>

#include "kernel/base/check.h"

namespace heca::io {
namespace {

// Register offsets from the base port.
constexpr std::uint64_t kRbrThr = 0;  // DLL when LCR.DLAB
constexpr std::uint64_t kIer = 1;     // DLM when LCR.DLAB
constexpr std::uint64_t kIirFcr = 2;
constexpr std::uint64_t kLcr = 3;
constexpr std::uint64_t kMcr = 4;
constexpr std::uint64_t kLsr = 5;
constexpr std::uint64_t kMsr = 6;
constexpr std::uint64_t kScr = 7;

constexpr std::uint8_t kIerRxData = 0x01;
constexpr std::uint8_t kIerThre = 0x02;
constexpr std::uint8_t kIerLineStatus = 0x04;
constexpr std::uint8_t kIerMask = 0x0f;

constexpr std::uint8_t kIirNone = 0x01;
constexpr std::uint8_t kIirLineStatus = 0x06;
constexpr std::uint8_t kIirRxData = 0x04;
constexpr std::uint8_t kIirThre = 0x02;
constexpr std::uint8_t kIirFifoEnabled = 0xc0;

constexpr std::uint8_t kFcrEnable = 0x01;
constexpr std::uint8_t kFcrClearRx = 0x02;

constexpr std::uint8_t kLcrDlab = 0x80;

constexpr std::uint8_t kMcrDtr = 0x01;
constexpr std::uint8_t kMcrRts = 0x02;
constexpr std::uint8_t kMcrOut1 = 0x04;
constexpr std::uint8_t kMcrOut2 = 0x08;
constexpr std::uint8_t kMcrLoop = 0x10;
constexpr std::uint8_t kMcrMask = 0x1f;

constexpr std::uint8_t kLsrDataReady = 0x01;
constexpr std::uint8_t kLsrOverrun = 0x02;
constexpr std::uint8_t kLsrThrEmpty = 0x20;
constexpr std::uint8_t kLsrTxEmpty = 0x40;

constexpr std::uint8_t kMsrCts = 0x10;
constexpr std::uint8_t kMsrDsr = 0x20;
constexpr std::uint8_t kMsrRi = 0x40;
constexpr std::uint8_t kMsrDcd = 0x80;

}  // namespace

Uart8250::Uart8250(OutputSink output, IrqLine irq)
    : output_(std::move(output)), irq_(std::move(irq)) {
  HECA_CHECK(output_ && irq_);
}

// Wider accesses act as consecutive byte accesses, as on an ISA bus.
void Uart8250::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::lock_guard lock(mu_);
  for (std::uint8_t& byte : data) {
    byte = offset < kRegisterCount ? read_register(offset) : 0xff;
    ++offset;
  }
}

void Uart8250::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::lock_guard lock(mu_);
  for (std::uint8_t byte : data) {
    if (offset < kRegisterCount) write_register(offset, byte);
    ++offset;
  }
}

void Uart8250::push_input(std::string_view bytes) {
  std::lock_guard lock(mu_);
  for (char c : bytes) receive(static_cast<std::uint8_t>(c));
  update_irq();
}

std::uint8_t Uart8250::read_register(std::uint64_t reg) {
  switch (reg) {
    case kRbrThr:
      return dlab() ? dll_ : read_rbr();
    case kIer:
      return dlab() ? dlm_ : ier_;
    case kIirFcr:
      return read_iir();
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr:
      return read_lsr();
    case kMsr:
      return read_msr();
    case kScr:
      return scr_;
    default:
      return 0xff;
  }
}

void Uart8250::write_register(std::uint64_t reg, std::uint8_t value) {
  switch (reg) {
    case kRbrThr:
      if (dlab()) {
        dll_ = value;
      } else {
        transmit(value);
      }
      break;
    case kIer:
      if (dlab()) {
        dlm_ = value;
      } else {
        write_ier(value);
      }
      break;
    case kIirFcr:
      write_fcr(value);
      break;
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      mcr_ = value & kMcrMask;
      break;
    case kScr:
      scr_ = value;
      break;
    default:
      break;  // LSR and MSR are read-only.
  }
}

// The byte leaves at once, so THR is empty again and THRE is (re)armed.
void Uart8250::transmit(std::uint8_t byte) {
  if (loopback()) {
    receive(byte);
  } else {
    const char c = static_cast<char>(byte);
    output_(std::string_view(&c, 1));
  }
  thre_pending_ = true;
  update_irq();
}

void Uart8250::receive(std::uint8_t byte) {
  if (rx_.size() >= kRxCapacity) {
    overrun_ = true;
    return;
  }
  rx_.push_back(byte);
}

// Enabling the THRE interrupt while THR is empty raises it at once (8250 behaviour
// that Linux probes for at start-up).
void Uart8250::write_ier(std::uint8_t value) {
  const bool thre_enabled_now = (value & kIerThre) != 0 && (ier_ & kIerThre) == 0;
  ier_ = value & kIerMask;
  if (thre_enabled_now) thre_pending_ = true;
  update_irq();
}

void Uart8250::write_fcr(std::uint8_t value) {
  fifo_enabled_ = (value & kFcrEnable) != 0;
  if ((value & kFcrClearRx) != 0) rx_.clear();
  update_irq();
}

std::uint8_t Uart8250::read_rbr() {
  if (rx_.empty()) return 0;
  const std::uint8_t byte = rx_.front();
  rx_.pop_front();
  update_irq();
  return byte;
}

// Reading IIR acknowledges a THRE interrupt when that is the one it reports.
std::uint8_t Uart8250::read_iir() {
  const std::uint8_t id = pending_interrupt();
  if (id == kIirThre) {
    thre_pending_ = false;
    update_irq();
  }
  return static_cast<std::uint8_t>(id | (fifo_enabled_ ? kIirFifoEnabled : 0));
}

// Reading LSR clears the overrun error.
std::uint8_t Uart8250::read_lsr() {
  std::uint8_t lsr = kLsrThrEmpty | kLsrTxEmpty;
  if (!rx_.empty()) lsr |= kLsrDataReady;
  if (overrun_) lsr |= kLsrOverrun;
  overrun_ = false;
  update_irq();
  return lsr;
}

// Outside loopback the line looks like a connected, ready terminal.
std::uint8_t Uart8250::read_msr() const {
  if (!loopback()) return kMsrDcd | kMsrDsr | kMsrCts;
  std::uint8_t msr = 0;
  if ((mcr_ & kMcrDtr) != 0) msr |= kMsrDsr;
  if ((mcr_ & kMcrRts) != 0) msr |= kMsrCts;
  if ((mcr_ & kMcrOut1) != 0) msr |= kMsrRi;
  if ((mcr_ & kMcrOut2) != 0) msr |= kMsrDcd;
  return msr;
}

std::uint8_t Uart8250::pending_interrupt() const {
  if ((ier_ & kIerLineStatus) != 0 && overrun_) return kIirLineStatus;
  if ((ier_ & kIerRxData) != 0 && !rx_.empty()) return kIirRxData;
  if ((ier_ & kIerThre) != 0 && thre_pending_) return kIirThre;
  return kIirNone;
}

void Uart8250::update_irq() {
  const bool level = pending_interrupt() != kIirNone;
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_(level);
}

bool Uart8250::dlab() const {
  return (lcr_ & kLcrDlab) != 0;
}
bool Uart8250::loopback() const {
  return (mcr_ & kMcrLoop) != 0;
}

}  // namespace heca::io

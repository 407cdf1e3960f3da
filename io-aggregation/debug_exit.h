// DebugExitDevice: the test-guest ABI ports (firmware/test_guest_abi.h).
// A write to kDebugExitPort reports the guest's exit code; one to kDebugEventPort a progress event.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "firmware/test_guest_abi.h"
#include "io-aggregation/io_device.h"

namespace heca::io {

// One device covering both ports: register it at kBasePort with kPortCount ports.
// Offset 0 is the exit port, offset 1 the event port. The written value is the
// little-endian, zero-extended data of a 1-, 2- or 4-byte OUT (the ABI uses 4);
// other widths are ignored. Reads return zeros.
//
// THREADS: stateless; the handlers run on the writing vCPU thread and must be
// safe to call from several vCPU threads at once.
class DebugExitDevice final : public IoDevice {
 public:
  static constexpr std::uint16_t kBasePort = firmware::abi::kDebugExitPort;
  static constexpr std::uint64_t kPortCount = 2;
  static_assert(firmware::abi::kDebugEventPort == kBasePort + 1);

  using ExitHandler = std::function<void(std::uint32_t code)>;
  using EventHandler = std::function<void(std::uint32_t event)>;

  DebugExitDevice(ExitHandler on_exit, EventHandler on_event);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  const ExitHandler on_exit_;
  const EventHandler on_event_;
};

}  // namespace heca::io

#include "io-aggregation/debug_exit.h"

#include <algorithm>
#include <utility>

#include "kernel/base/check.h"

namespace heca::io {
namespace {

constexpr std::uint64_t kExitOffset = 0;
constexpr std::uint64_t kEventOffset = 1;

bool valid_width(std::size_t size) {
  return size == 1 || size == 2 || size == 4;
}

std::uint32_t little_endian_value(std::span<const std::uint8_t> data) {
  std::uint32_t value = 0;
  for (std::size_t i = data.size(); i-- > 0;) value = (value << 8) | data[i];
  return value;
}

}  // namespace

DebugExitDevice::DebugExitDevice(ExitHandler on_exit, EventHandler on_event)
    : on_exit_(std::move(on_exit)), on_event_(std::move(on_event)) {
  HECA_CHECK(on_exit_ && on_event_);
}

void DebugExitDevice::read(std::uint64_t /*offset*/, std::span<std::uint8_t> data) {
  std::ranges::fill(data, std::uint8_t{0});
}

void DebugExitDevice::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (!valid_width(data.size())) return;
  const std::uint32_t value = little_endian_value(data);
  if (offset == kExitOffset) {
    on_exit_(value);
  } else if (offset == kEventOffset) {
    on_event_(value);
  }
}

}  // namespace heca::io

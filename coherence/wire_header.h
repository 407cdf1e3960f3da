// The fixed binary header in front of every message between heca nodes, of every family
// (coherence, I/O, link: wire_rules.h), on every transport. Transports use it only to frame
// messages; each family's codec gives the fields meaning through the one table of wire_rules.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernel/base/result.h"

namespace heca::coherence::wire {

inline constexpr std::uint32_t kMagic = 0x41434548;  // "HECA" little-endian
// 2: InvalidateAck and FetchReply may carry kFlagAfterHold, Grant kFlagGrantDelayed.
// 3: one field table for every family (wire_rules.h); the I/O family's Interrupt (0x46) is gone.
inline constexpr std::uint8_t kVersion = 3;
inline constexpr std::size_t kHeaderSize = 32;
inline constexpr std::uint32_t kMaxPayload = 64 * 1024;

// Layout, little-endian, no padding:
//   0  u32 magic     4  u8 version   5  u8 type   6  u16 flags
//   8  u32 payload_length            12 u16 sender   14 u16 reserved (0)
//   16 u64 page      24 u64 request_id
struct Header {
  std::uint8_t type = 0;
  std::uint16_t flags = 0;
  std::uint32_t payload_length = 0;
  std::uint16_t sender = 0;
  std::uint64_t page = 0;
  std::uint64_t request_id = 0;
};

void encode_header(const Header& header, std::span<std::uint8_t, kHeaderSize> out);
// Checks magic, version, reserved bits and payload_length <= kMaxPayload. It does not check
// the type: that is the codec's job (wire.h), so a transport can frame any message of this version.
[[nodiscard]] Result<Header> decode_header(std::span<const std::uint8_t> bytes);

}  // namespace heca::coherence::wire

// The I/O forwarding codec: PIO/MMIO requests, replies and the guest's exit as typed messages
// on the frame header, in the I/O family's type range (coherence/wire_rules.h), on their own
// connections. Interrupts between nodes are link messages (vmm/node/link_wire.h).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "coherence/types.h"
#include "coherence/wire_header.h"
#include "kernel/base/result.h"

namespace heca::io {

using coherence::NodeId;

// Header use (the coherence header, see coherence/wire_header.h):
//   page       = the access address (port or guest-physical address) for the four requests,
//                zero for every other type;
//   request_id = pairs an IoReply with its request (zero for GuestExit).
// Payloads, little-endian:
//   PioRead, MmioRead    u8 size                         (payload_length 1)
//   PioWrite, MmioWrite  the written bytes               (payload_length = size)
//   IoReply              the read bytes, or none for a write
//   GuestExit            u32 exit code                   (payload_length 4)
// Sizes: PIO 1, 2 or 4 bytes; MMIO 1, 2, 4 or 8 bytes. Ports lie below 0x10000.
enum class IoMessageType : std::uint8_t {
  kPioRead = 0x40,    // compute node -> I/O node
  kPioWrite = 0x41,   // compute node -> I/O node
  kMmioRead = 0x42,   // compute node -> I/O node
  kMmioWrite = 0x43,  // compute node -> I/O node
  kIoReply = 0x44,    // I/O node -> requester: completes request_id
  kGuestExit = 0x45,  // I/O node -> every node: the guest ended with this exit code
};
// The I/O family's range, as coherence/wire_rules.h assigns it.
inline constexpr std::uint8_t kFirstIoMessageType = 0x40;
inline constexpr std::uint8_t kLastIoMessageType = 0x45;

// IoReply: no device claimed the access on the I/O node (the PC default was applied).
inline constexpr std::uint16_t kFlagUnclaimed = 1U << 0;

inline constexpr std::size_t kMaxAccessSize = 8;
inline constexpr std::size_t kMaxIoPayload = 8;

// One decoded I/O message. Fields a type does not use stay zero, so decode(encode(m)) == m.
struct IoMessage {
  IoMessageType type = IoMessageType::kPioRead;
  std::uint16_t flags = 0;
  NodeId sender = 0;
  std::uint64_t request_id = 0;
  std::uint64_t address = 0;  // requests: port or guest-physical address
  std::uint8_t size = 0;      // requests: access width; IoReply: data length (0 for a write)
  std::array<std::uint8_t, kMaxAccessSize> data{};  // writes and IoReply: first `size` bytes
  std::uint32_t exit_code = 0;                      // GuestExit

  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {data.data(), size}; }
  friend bool operator==(const IoMessage&, const IoMessage&) = default;
};

// Builders; they HECA_CHECK the sizes (a bad size here is a programming error).
[[nodiscard]] IoMessage make_read_request(bool mmio, std::uint64_t address, std::size_t size);
[[nodiscard]] IoMessage make_write_request(bool mmio, std::uint64_t address,
                                           std::span<const std::uint8_t> data);
[[nodiscard]] IoMessage make_reply(std::uint64_t request_id, std::span<const std::uint8_t> data,
                                   bool unclaimed);
[[nodiscard]] IoMessage make_guest_exit(std::uint32_t exit_code);

[[nodiscard]] bool is_request(IoMessageType type);
// 1, 2 or 4 bytes for PIO; 1, 2, 4 or 8 for MMIO.
[[nodiscard]] bool valid_access_size(bool mmio, std::size_t size);
[[nodiscard]] std::string_view type_name(IoMessageType type);

// A message ready for Transport::send().
struct EncodedIoMessage {
  coherence::wire::Header header;
  std::array<std::uint8_t, kMaxIoPayload> payload{};
  [[nodiscard]] std::span<const std::uint8_t> payload_bytes() const {
    return {payload.data(), header.payload_length};
  }
};
[[nodiscard]] EncodedIoMessage encode(const IoMessage& message);

// What can be checked from the header alone, by the I/O family's table (coherence/wire_rules.h):
// known I/O type, payload length allowed for the type, no unknown flag bits, a port below
// 0x10000, zero where a field has no use. The Error names the problem.
[[nodiscard]] Status validate_header(const coherence::wire::Header& header);
// The single validation point for a received I/O message: validate_header() plus the payload
// (exactly payload_length bytes, the access size a read asks for).
[[nodiscard]] Result<IoMessage> decode(const coherence::wire::Header& header,
                                       std::span<const std::uint8_t> payload);

}  // namespace heca::io

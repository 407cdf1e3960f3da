// The coherence message codec: typed protocol messages on top of the fixed wire header.
// decode() is the single validation point for every message a node receives.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "coherence/types.h"
#include "coherence/wire_header.h"
#include "kernel/base/result.h"

namespace heca::coherence::wire {

enum class MessageType : std::uint8_t {
  kReadRequest = 1,      // requester -> home: wants S
  kWriteRequest = 2,     // requester -> home: wants M
  kInvalidate = 3,       // home -> sharer: drop your S copy
  kInvalidateAck = 4,    // sharer -> home
  kFetch = 5,            // home -> owner: downgrade M -> S and return the data
  kFetchInvalidate = 6,  // home -> owner: M -> I and return the data
  kFetchReply = 7,       // owner -> home: the page (payload kPageSize)
  kGrant = 8,            // home -> requester: S or M, with the page or without (upgrade)
  kBarrier = 9,          // node -> every peer: reached barrier `request_id` (page 0)
};
inline constexpr std::uint8_t kMaxMessageType = 9;

// Flag bits, per type. Every other bit must be zero.
inline constexpr std::uint16_t kFlagPrefetch = 1U << 0;      // ReadRequest: no thread waits on it
inline constexpr std::uint16_t kFlagGrantWrite = 1U << 0;    // Grant: M (else S)
inline constexpr std::uint16_t kFlagFinalBarrier = 1U << 0;  // Barrier: the sender then leaves
// InvalidateAck, FetchReply: the holder answered only once its hold time was over.
inline constexpr std::uint16_t kFlagAfterHold = 1U << 0;
// Grant: the request waited behind another transaction or a holder's hold, so the time it
// took is not what a transfer costs (the adaptive hold learns only from the others).
inline constexpr std::uint16_t kFlagGrantDelayed = 1U << 1;

struct Message {
  MessageType type = MessageType::kReadRequest;
  std::uint16_t flags = 0;
  NodeId sender = 0;
  PageIndex page = 0;
  std::uint64_t request_id = 0;
  bool has_page_data = false;  // a kPageSize payload follows the header

  friend bool operator==(const Message&, const Message&) = default;
};

[[nodiscard]] std::string_view type_name(MessageType type);

// The header for `message`; payload_length is kPageSize when has_page_data.
[[nodiscard]] Header to_header(const Message& message);
// header + payload bytes, for transports and tests that want one buffer.
void encode(const Message& message, std::span<std::uint8_t, kHeaderSize> out);

// Validates a framed header: known type, payload length allowed for the type, page below
// `page_count`, no unknown flag bits. The Error names the problem.
[[nodiscard]] Result<Message> decode(const Header& header, std::uint64_t page_count);
// Decodes raw bytes (header then payload): also checks that exactly payload_length bytes follow.
[[nodiscard]] Result<Message> decode_bytes(std::span<const std::uint8_t> bytes,
                                           std::uint64_t page_count);

}  // namespace heca::coherence::wire

// The node links' own messages, beside I/O forwarding (io-aggregation/io_wire.h): forwarded
// interrupts, host-TSC probes and the guest-stop notice. All are header-only frames of the
// frame header (coherence/wire_header.h) in the link family's range 0x50..0x53, checked by
// the one field table of coherence/wire_rules.h. decode_link() accepts only what
// encode_link() can produce and names anything else, so a malformed link message closes that
// link (NodeLinks) instead of being guessed at.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "coherence/types.h"
#include "coherence/wire_header.h"
#include "kernel/base/result.h"

namespace heca::vmm::node {

enum class IpiKind : std::uint8_t { kFixed = 0, kNmi = 1, kInit = 2, kSipi = 3 };
inline constexpr std::size_t kIpiKindCount = 4;

// Header fields per message (every other field is 0):
//   0x50 forwarded interrupt: flags = IpiKind, page = destination APIC id, request_id = vector
//   0x51 TSC probe:           request_id = sequence number
//   0x52 TSC reply:           request_id = the probe's sequence, page = the replier's TSC
//   0x53 guest stop:          page = exit code (0..255); every receiver stops the guest too
inline constexpr std::uint8_t kForwardedInterruptType = 0x50;
inline constexpr std::uint8_t kTscProbeType = 0x51;
inline constexpr std::uint8_t kTscReplyType = 0x52;
inline constexpr std::uint8_t kGuestStopType = 0x53;
inline constexpr std::uint8_t kFirstLinkType = kForwardedInterruptType;
inline constexpr std::uint8_t kLastLinkType = kGuestStopType;

struct ForwardedInterrupt {
  IpiKind kind = IpiKind::kFixed;
  std::uint32_t apic_id = 0;
  std::uint8_t vector = 0;
  friend bool operator==(const ForwardedInterrupt&, const ForwardedInterrupt&) = default;
};
struct TscProbe {
  std::uint64_t sequence = 0;
  friend bool operator==(const TscProbe&, const TscProbe&) = default;
};
struct TscReply {
  std::uint64_t sequence = 0;
  std::uint64_t tsc = 0;
  friend bool operator==(const TscReply&, const TscReply&) = default;
};
struct GuestStop {
  std::uint8_t exit_code = 0;
  friend bool operator==(const GuestStop&, const GuestStop&) = default;
};
using LinkMessage = std::variant<ForwardedInterrupt, TscProbe, TscReply, GuestStop>;

[[nodiscard]] coherence::wire::Header encode_link(const LinkMessage& message,
                                                  coherence::NodeId sender);
// The message of a frame that arrived on the link from node `from`. Errors name the problem:
// a type outside the link and I/O families, a payload, a field out of range or set where it
// must be 0, a sender that is not `from`.
[[nodiscard]] Result<LinkMessage> decode_link(const coherence::wire::Header& header,
                                              std::span<const std::uint8_t> payload,
                                              coherence::NodeId from);

}  // namespace heca::vmm::node

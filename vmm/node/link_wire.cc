#include "vmm/node/link_wire.h"

#include <fmt/format.h>

#include <cerrno>
#include <limits>

#include "kernel/base/overloaded.h"

namespace heca::vmm::node {
namespace {

using coherence::wire::Header;

std::string_view type_name(std::uint8_t type) {
  switch (type) {
    case kForwardedInterruptType:
      return "forwarded interrupt";
    case kTscProbeType:
      return "TSC probe";
    case kTscReplyType:
      return "TSC reply";
    case kGuestStopType:
      return "guest stop";
    default:
      return "?";
  }
}

// The fields a message of `header.type` leaves at 0 are 0.
Status expect_zero(const Header& header, bool flags, bool page, bool request_id) {
  const auto bad = [&](std::string_view field, std::uint64_t value) {
    return make_error(fmt::format("malformed link message ({}, type {:#x}): {} is {:#x}, must be 0",
                                  type_name(header.type), header.type, field, value),
                      EPROTO);
  };
  if (flags && header.flags != 0) return bad("flags", header.flags);
  if (page && header.page != 0) return bad("page", header.page);
  if (request_id && header.request_id != 0) return bad("request_id", header.request_id);
  return {};
}

Status in_range(const Header& header, std::string_view field, std::uint64_t value,
                std::uint64_t max) {
  if (value <= max) return {};
  return make_error(fmt::format("malformed link message ({}, type {:#x}): {} {:#x} is above {:#x}",
                                type_name(header.type), header.type, field, value, max),
                    EPROTO);
}

}  // namespace

Header encode_link(const LinkMessage& message, coherence::NodeId sender) {
  return std::visit(
      Overloaded{
          [&](const ForwardedInterrupt& m) {
            return Header{.type = kForwardedInterruptType,
                          .flags = static_cast<std::uint16_t>(m.kind),
                          .sender = sender,
                          .page = m.apic_id,
                          .request_id = m.vector};
          },
          [&](const TscProbe& m) {
            return Header{.type = kTscProbeType, .sender = sender, .request_id = m.sequence};
          },
          [&](const TscReply& m) {
            return Header{
                .type = kTscReplyType, .sender = sender, .page = m.tsc, .request_id = m.sequence};
          },
          [&](const GuestStop& m) {
            return Header{.type = kGuestStopType, .sender = sender, .page = m.exit_code};
          }},
      message);
}

Result<LinkMessage> decode_link(const Header& header, std::span<const std::uint8_t> payload,
                                coherence::NodeId from) {
  if (header.type < kFirstLinkType || header.type > kLastLinkType) {
    return make_error(fmt::format("unknown message type {:#x} on a node link", header.type),
                      EPROTO);
  }
  if (header.payload_length != 0 || !payload.empty()) {
    return make_error(fmt::format("malformed link message ({}, type {:#x}): it carries {} payload "
                                  "bytes, must carry none",
                                  type_name(header.type), header.type, header.payload_length),
                      EPROTO);
  }
  if (header.sender != from) {
    return make_error(fmt::format("malformed link message ({}, type {:#x}): sender {} on the link "
                                  "from node {}",
                                  type_name(header.type), header.type, header.sender, from),
                      EPROTO);
  }
  switch (header.type) {
    case kForwardedInterruptType: {
      if (auto s = in_range(header, "flags (IPI kind)", header.flags, kIpiKindCount - 1); !s) {
        return std::unexpected(s.error());
      }
      if (auto s = in_range(header, "page (APIC id)", header.page,
                            std::numeric_limits<std::uint32_t>::max());
          !s) {
        return std::unexpected(s.error());
      }
      if (auto s = in_range(header, "request_id (vector)", header.request_id, 0xFF); !s) {
        return std::unexpected(s.error());
      }
      return ForwardedInterrupt{.kind = static_cast<IpiKind>(header.flags),
                                .apic_id = static_cast<std::uint32_t>(header.page),
                                .vector = static_cast<std::uint8_t>(header.request_id)};
    }
    case kTscProbeType:
      if (auto s = expect_zero(header, true, true, false); !s) return std::unexpected(s.error());
      return TscProbe{.sequence = header.request_id};
    case kTscReplyType:
      if (auto s = expect_zero(header, true, false, false); !s) return std::unexpected(s.error());
      return TscReply{.sequence = header.request_id, .tsc = header.page};
    default:  // kGuestStopType
      if (auto s = expect_zero(header, true, false, true); !s) return std::unexpected(s.error());
      if (auto s = in_range(header, "page (exit code)", header.page, 0xFF); !s) {
        return std::unexpected(s.error());
      }
      return GuestStop{.exit_code = static_cast<std::uint8_t>(header.page)};
  }
}

}  // namespace heca::vmm::node

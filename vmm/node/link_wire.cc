#include "vmm/node/link_wire.h"

#include <fmt/format.h>

#include <array>
#include <limits>

#include "coherence/wire_rules.h"
#include "kernel/base/overloaded.h"

namespace heca::vmm::node {
namespace {

using coherence::wire::any;
using coherence::wire::at_most;
using coherence::wire::Family;
using coherence::wire::Header;
using coherence::wire::lengths;
using coherence::wire::TypeRule;
using coherence::wire::zero;

// One entry per type of the link range (coherence/wire_rules.h), in type order; every link
// message is header-only.
constexpr std::array<TypeRule, 4> kRules = {{
    {kForwardedInterruptType, "forwarded interrupt", at_most(kIpiKindCount - 1, "flags (IPI kind)"),
     at_most(std::numeric_limits<std::uint32_t>::max(), "page (APIC id)"),
     at_most(0xFF, "request_id (vector)"), lengths({0})},
    {kTscProbeType, "TSC probe", zero(), zero(), any(), lengths({0})},
    {kTscReplyType, "TSC reply", zero(), any(), any(), lengths({0})},
    {kGuestStopType, "guest stop", zero(), at_most(0xFF, "page (exit code)"), zero(),
     lengths({0})},
}};
static_assert(kRules.size() == kLastLinkType - kFirstLinkType + 1);
static_assert(range_of(Family::kLink).first == kFirstLinkType &&
              range_of(Family::kLink).last == kLastLinkType);

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
  auto rule = check_frame(Family::kLink, kRules, header, {.from = from, .payload = payload});
  if (!rule) return std::unexpected(rule.error());
  switch (header.type) {
    case kForwardedInterruptType:
      return ForwardedInterrupt{.kind = static_cast<IpiKind>(header.flags),
                                .apic_id = static_cast<std::uint32_t>(header.page),
                                .vector = static_cast<std::uint8_t>(header.request_id)};
    case kTscProbeType:
      return TscProbe{.sequence = header.request_id};
    case kTscReplyType:
      return TscReply{.sequence = header.request_id, .tsc = header.page};
    default:  // kGuestStopType
      return GuestStop{.exit_code = static_cast<std::uint8_t>(header.page)};
  }
}

}  // namespace heca::vmm::node

// The one validating codec for the header fields of every message family on the frame header
// (wire_header.h): each family lists per message type what each field may hold, check_frame()
// applies that table and names the family, the type, the field and the value it refused.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>

#include "coherence/types.h"
#include "coherence/wire_header.h"
#include "kernel/base/result.h"

namespace heca::coherence::wire {

// Message families; every type byte belongs to at most one (kFamilyRanges, assigned only here).
enum class Family : std::uint8_t { kCoherence, kIo, kLink, kHandshake };

struct FamilyRange {
  Family family;
  std::string_view name;  // as errors name the family
  std::uint8_t first;
  std::uint8_t last;
};
inline constexpr std::array<FamilyRange, 4> kFamilyRanges = {{
    {Family::kCoherence, "coherence", 0x01, 0x09},  // coherence/wire.h
    {Family::kIo, "I/O", 0x40, 0x45},               // io-aggregation/io_wire.h
    {Family::kLink, "link", 0x50, 0x53},            // vmm/node/link_wire.h
    {Family::kHandshake, "handshake", 0x60, 0x61},  // coherence/peer_auth.h
}};

[[nodiscard]] constexpr const FamilyRange& range_of(Family family) {
  return kFamilyRanges[static_cast<std::size_t>(family)];
}
// The family `type` belongs to, if any.
[[nodiscard]] std::optional<Family> family_of(std::uint8_t type);

// What one header field may hold.
struct FieldRule {
  enum class Kind : std::uint8_t {
    kZero,       // must be 0
    kAny,        // any value
    kAtMost,     // at most `limit`; errors say "<label> <value> is above <limit>"
    kBits,       // only the bits of `limit` (a flags mask)
    kPageIndex,  // a page below FrameContext::page_count
  };
  Kind kind = Kind::kZero;
  std::uint64_t limit = 0;
  std::string_view label;
};
[[nodiscard]] constexpr FieldRule zero() { return {}; }
[[nodiscard]] constexpr FieldRule any() { return {.kind = FieldRule::Kind::kAny}; }
[[nodiscard]] constexpr FieldRule at_most(std::uint64_t limit, std::string_view label) {
  return {.kind = FieldRule::Kind::kAtMost, .limit = limit, .label = label};
}
[[nodiscard]] constexpr FieldRule bits(std::uint64_t mask) {
  return {.kind = FieldRule::Kind::kBits, .limit = mask};
}
[[nodiscard]] constexpr FieldRule page_index() { return {.kind = FieldRule::Kind::kPageIndex}; }

// The payload lengths a type allows (at most kMaxLengths of them).
struct PayloadRule {
  static constexpr std::size_t kMaxLengths = 5;
  std::array<std::uint32_t, kMaxLengths> lengths{};
  std::size_t count = 1;  // the default: only 0
  [[nodiscard]] bool allows(std::uint32_t length) const;
};
[[nodiscard]] constexpr PayloadRule lengths(std::initializer_list<std::uint32_t> allowed) {
  PayloadRule rule{.count = 0};
  for (const std::uint32_t length : allowed) rule.lengths[rule.count++] = length;
  return rule;
}

// One message type of a family: its name and what each header field and the payload may hold.
struct TypeRule {
  std::uint8_t type = 0;
  std::string_view name;
  FieldRule flags;
  FieldRule page;
  FieldRule request_id;
  PayloadRule payload;
};

struct FrameContext {
  std::uint64_t page_count = 0;      // FieldRule::kPageIndex: the region's size in pages
  std::optional<NodeId> from;        // the frame's sender must be this peer
  // The payload as received; absent when the caller reads it later (coherence page data):
  // then only payload_length is checked.
  std::optional<std::span<const std::uint8_t>> payload;
};

// The rule of `header.type` in `rules` (a family's table, one entry per type of its range)
// once every field, the sender and the payload obey it. Errors (EPROTO):
//   "unknown <family> message type N (0xN)", or
//   "malformed <family> message (<name>, type 0x..): <what is wrong>".
[[nodiscard]] Result<const TypeRule*> check_frame(Family family, std::span<const TypeRule> rules,
                                                  const Header& header,
                                                  const FrameContext& context);

}  // namespace heca::coherence::wire

#include "coherence/wire_rules.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>

namespace heca::coherence::wire {
namespace {

std::unexpected<Error> malformed(Family family, const TypeRule& rule, const std::string& what) {
  return make_error(fmt::format("malformed {} message ({}, type {:#x}): {}", range_of(family).name,
                                rule.name, rule.type, what),
                    EPROTO);
}

// Empty when `value` obeys `rule`, else what is wrong with it.
std::string field_problem(const FieldRule& rule, std::string_view field, std::uint64_t value,
                          const FrameContext& context) {
  switch (rule.kind) {
    case FieldRule::Kind::kZero:
      return value == 0 ? std::string() : fmt::format("{} is {:#x}, must be 0", field, value);
    case FieldRule::Kind::kAny:
      return {};
    case FieldRule::Kind::kAtMost:
      return value <= rule.limit
                 ? std::string()
                 : fmt::format("{} {:#x} is above {:#x}", rule.label, value, rule.limit);
    case FieldRule::Kind::kBits:
      return (value & ~rule.limit) == 0
                 ? std::string()
                 : fmt::format("unknown {} {} (allowed bits {:#x})", field,
                               value & ~rule.limit, rule.limit);
    case FieldRule::Kind::kPageIndex:
      return value < context.page_count
                 ? std::string()
                 : fmt::format("{} {} out of range ({} pages)", field, value, context.page_count);
  }
  return "unknown rule";
}

std::string payload_problem(const TypeRule& rule, const Header& header,
                            const FrameContext& context) {
  if (!rule.payload.allows(header.payload_length)) {
    return fmt::format(
        "bad size: it carries {} payload bytes (allowed: {})", header.payload_length,
        fmt::join(std::span(rule.payload.lengths.data(), rule.payload.count), ", "));
  }
  if (context.payload && context.payload->size() != header.payload_length) {
    return fmt::format("payload of {} bytes, header says {}", context.payload->size(),
                       header.payload_length);
  }
  return {};
}

}  // namespace

bool PayloadRule::allows(std::uint32_t length) const {
  return std::find(lengths.begin(), lengths.begin() + static_cast<std::ptrdiff_t>(count),
                   length) != lengths.begin() + static_cast<std::ptrdiff_t>(count);
}

std::optional<Family> family_of(std::uint8_t type) {
  for (const auto& range : kFamilyRanges) {
    if (type >= range.first && type <= range.last) return range.family;
  }
  return std::nullopt;
}

Result<const TypeRule*> check_frame(Family family, std::span<const TypeRule> rules,
                                    const Header& header, const FrameContext& context) {
  const auto rule = std::ranges::find(rules, header.type, &TypeRule::type);
  if (family_of(header.type) != family || rule == rules.end()) {
    return make_error(
        fmt::format("unknown {} message type {} ({:#x})", range_of(family).name, header.type,
                    header.type),
        EPROTO);
  }
  for (const auto& problem :
       {field_problem(rule->flags, "flags", header.flags, context),
        field_problem(rule->page, "page", header.page, context),
        field_problem(rule->request_id, "request_id", header.request_id, context),
        payload_problem(*rule, header, context)}) {
    if (!problem.empty()) return malformed(family, *rule, problem);
  }
  if (context.from && header.sender != *context.from) {
    return malformed(family, *rule,
                     fmt::format("sender {} on the link from node {}", header.sender,
                                 *context.from));
  }
  return &*rule;
}

}  // namespace heca::coherence::wire

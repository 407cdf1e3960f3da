#include "coherence/wire.h"

#include <array>
#include <string>

#include "coherence/wire_rules.h"

namespace heca::coherence::wire {
namespace {

constexpr PayloadRule kNoData = lengths({0});
constexpr PayloadRule kPage = lengths({kPageSize});
constexpr PayloadRule kMaybePage = lengths({0, kPageSize});

// One entry per type of the coherence range (wire_rules.h), in type order.
constexpr std::array<TypeRule, kMaxMessageType> kRules = {{
    {1, "ReadRequest", bits(kFlagPrefetch), page_index(), any(), kNoData},
    {2, "WriteRequest", zero(), page_index(), any(), kNoData},
    {3, "Invalidate", zero(), page_index(), any(), kNoData},
    {4, "InvalidateAck", bits(kFlagAfterHold), page_index(), any(), kNoData},
    {5, "Fetch", zero(), page_index(), any(), kNoData},
    {6, "FetchInvalidate", zero(), page_index(), any(), kNoData},
    {7, "FetchReply", bits(kFlagAfterHold), page_index(), any(), kPage},
    {8, "Grant", bits(kFlagGrantWrite | kFlagGrantDelayed), page_index(), any(), kMaybePage},
    {9, "Barrier", bits(kFlagFinalBarrier), zero(), any(), kNoData},
}};
static_assert(range_of(Family::kCoherence).first == 1 &&
              range_of(Family::kCoherence).last == kMaxMessageType);

}  // namespace

std::string_view type_name(MessageType type) {
  const auto index = static_cast<std::size_t>(type);
  return index >= 1 && index <= kRules.size() ? kRules[index - 1].name : "Unknown";
}

Header to_header(const Message& message) {
  Header header;
  header.type = static_cast<std::uint8_t>(message.type);
  header.flags = message.flags;
  header.payload_length = message.has_page_data ? static_cast<std::uint32_t>(kPageSize) : 0U;
  header.sender = message.sender;
  header.page = message.page;
  header.request_id = message.request_id;
  return header;
}

void encode(const Message& message, std::span<std::uint8_t, kHeaderSize> out) {
  encode_header(to_header(message), out);
}

Result<Message> decode(const Header& header, std::uint64_t page_count) {
  auto rule = check_frame(Family::kCoherence, kRules, header, {.page_count = page_count});
  if (!rule) return std::unexpected(rule.error());
  return Message{.type = static_cast<MessageType>(header.type),
                 .flags = header.flags,
                 .sender = header.sender,
                 .page = header.page,
                 .request_id = header.request_id,
                 .has_page_data = header.payload_length != 0};
}

Result<Message> decode_bytes(std::span<const std::uint8_t> bytes, std::uint64_t page_count) {
  auto header = decode_header(bytes);
  if (!header) return std::unexpected(header.error());
  if (bytes.size() - kHeaderSize != header->payload_length) {
    return make_error("frame of " + std::to_string(bytes.size()) + " bytes does not match " +
                      "payload length " + std::to_string(header->payload_length));
  }
  return decode(*header, page_count);
}

}  // namespace heca::coherence::wire

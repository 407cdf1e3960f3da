#include "coherence/wire.h"

#include <string>

namespace heca::coherence::wire {
namespace {

struct TypeRule {
  std::string_view name;
  std::uint16_t allowed_flags;
  bool data_allowed;
  bool data_required;
  bool page_message;  // false: page must be 0
};

// Indexed by the numeric type; entry 0 is unused.
constexpr TypeRule kRules[kMaxMessageType + 1] = {
    {"Unknown", 0, false, false, false},
    {"ReadRequest", kFlagPrefetch, false, false, true},
    {"WriteRequest", 0, false, false, true},
    {"Invalidate", 0, false, false, true},
    {"InvalidateAck", kFlagAfterHold, false, false, true},
    {"Fetch", 0, false, false, true},
    {"FetchInvalidate", 0, false, false, true},
    {"FetchReply", kFlagAfterHold, true, true, true},
    {"Grant", kFlagGrantWrite | kFlagGrantDelayed, true, false, true},
    {"Barrier", kFlagFinalBarrier, false, false, false},
};

bool known_type(std::uint8_t type) {
  return type >= 1 && type <= kMaxMessageType;
}

Status check_payload(const TypeRule& rule, std::uint32_t length) {
  const bool ok = length == 0 ? !rule.data_required : (rule.data_allowed && length == kPageSize);
  if (ok) return {};
  return make_error(std::string(rule.name) + ": payload length " + std::to_string(length) +
                    " not allowed");
}

}  // namespace

std::string_view type_name(MessageType type) {
  const auto index = static_cast<std::uint8_t>(type);
  return known_type(index) ? kRules[index].name : kRules[0].name;
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
  if (!known_type(header.type)) {
    return make_error("unknown message type " + std::to_string(header.type));
  }
  const TypeRule& rule = kRules[header.type];
  if ((header.flags & ~rule.allowed_flags) != 0) {
    return make_error(std::string(rule.name) + ": unknown flag bits " +
                      std::to_string(header.flags & ~rule.allowed_flags));
  }
  if (auto status = check_payload(rule, header.payload_length); !status) {
    return std::unexpected(status.error());
  }
  if (rule.page_message ? header.page >= page_count : header.page != 0) {
    return make_error(std::string(rule.name) + ": page " + std::to_string(header.page) +
                      " out of range (" + std::to_string(page_count) + " pages)");
  }
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

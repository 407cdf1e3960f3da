#include "coherence/wire_header.h"

#include <string>

#include "kernel/base/le_bytes.h"

namespace heca::coherence::wire {

void encode_header(const Header& header, std::span<std::uint8_t, kHeaderSize> out) {
  put_le<std::uint32_t>(out, 0, kMagic);
  put_le<std::uint8_t>(out, 4, kVersion);
  put_le<std::uint8_t>(out, 5, header.type);
  put_le<std::uint16_t>(out, 6, header.flags);
  put_le<std::uint32_t>(out, 8, header.payload_length);
  put_le<std::uint16_t>(out, 12, header.sender);
  put_le<std::uint16_t>(out, 14, 0);
  put_le<std::uint64_t>(out, 16, header.page);
  put_le<std::uint64_t>(out, 24, header.request_id);
}

Result<Header> decode_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) {
    return make_error("truncated header: " + std::to_string(bytes.size()) + " of " +
                      std::to_string(kHeaderSize) + " bytes");
  }
  if (get_le<std::uint32_t>(bytes, 0) != kMagic) return make_error("bad magic");
  const auto version = get_le<std::uint8_t>(bytes, 4);
  if (version != kVersion) return make_error("unsupported version " + std::to_string(version));
  if (get_le<std::uint16_t>(bytes, 14) != 0) return make_error("reserved header field is not zero");
  Header header;
  header.type = get_le<std::uint8_t>(bytes, 5);
  header.flags = get_le<std::uint16_t>(bytes, 6);
  header.payload_length = get_le<std::uint32_t>(bytes, 8);
  header.sender = get_le<std::uint16_t>(bytes, 12);
  header.page = get_le<std::uint64_t>(bytes, 16);
  header.request_id = get_le<std::uint64_t>(bytes, 24);
  if (header.payload_length > kMaxPayload) {
    return make_error("payload length " + std::to_string(header.payload_length) + " exceeds " +
                      std::to_string(kMaxPayload));
  }
  return header;
}

}  // namespace heca::coherence::wire

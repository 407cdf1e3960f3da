#include "coherence/wire_header.h"

#include <bit>
#include <cstring>
#include <string>

namespace heca::coherence::wire {
namespace {

template <class T>
void put(std::span<std::uint8_t, kHeaderSize> out, std::size_t offset, T value) {
  static_assert(std::endian::native == std::endian::little);
  std::memcpy(out.data() + offset, &value, sizeof(T));
}

template <class T>
T get(std::span<const std::uint8_t> in, std::size_t offset) {
  T value{};
  std::memcpy(&value, in.data() + offset, sizeof(T));
  return value;
}

}  // namespace

void encode_header(const Header& header, std::span<std::uint8_t, kHeaderSize> out) {
  put<std::uint32_t>(out, 0, kMagic);
  put<std::uint8_t>(out, 4, kVersion);
  put<std::uint8_t>(out, 5, header.type);
  put<std::uint16_t>(out, 6, header.flags);
  put<std::uint32_t>(out, 8, header.payload_length);
  put<std::uint16_t>(out, 12, header.sender);
  put<std::uint16_t>(out, 14, 0);
  put<std::uint64_t>(out, 16, header.page);
  put<std::uint64_t>(out, 24, header.request_id);
}

Result<Header> decode_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) {
    return make_error("truncated header: " + std::to_string(bytes.size()) + " of " +
                      std::to_string(kHeaderSize) + " bytes");
  }
  if (get<std::uint32_t>(bytes, 0) != kMagic) return make_error("bad magic");
  const auto version = get<std::uint8_t>(bytes, 4);
  if (version != kVersion) return make_error("unsupported version " + std::to_string(version));
  if (get<std::uint16_t>(bytes, 14) != 0) return make_error("reserved header field is not zero");
  Header header;
  header.type = get<std::uint8_t>(bytes, 5);
  header.flags = get<std::uint16_t>(bytes, 6);
  header.payload_length = get<std::uint32_t>(bytes, 8);
  header.sender = get<std::uint16_t>(bytes, 12);
  header.page = get<std::uint64_t>(bytes, 16);
  header.request_id = get<std::uint64_t>(bytes, 24);
  if (header.payload_length > kMaxPayload) {
    return make_error("payload length " + std::to_string(header.payload_length) + " exceeds " +
                      std::to_string(kMaxPayload));
  }
  return header;
}

}  // namespace heca::coherence::wire

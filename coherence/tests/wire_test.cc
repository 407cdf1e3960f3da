#include "coherence/wire.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace heca::coherence::wire {
namespace {

constexpr std::uint64_t kPages = 16;

std::vector<std::uint8_t> frame(const Header& header) {
  std::vector<std::uint8_t> bytes(kHeaderSize + header.payload_length);
  encode_header(header, std::span<std::uint8_t, kHeaderSize>(bytes.data(), kHeaderSize));
  return bytes;
}

Header header_of(MessageType type, std::uint32_t payload_length = 0) {
  return Header{.type = static_cast<std::uint8_t>(type),
                .payload_length = payload_length,
                .sender = 2,
                .page = 5,
                .request_id = 77};
}

TEST(WireCodec, GrantWithDataRoundTrips) {
  const Message grant{.type = MessageType::kGrant,
                      .flags = kFlagGrantWrite,
                      .sender = 1,
                      .page = 3,
                      .request_id = 9,
                      .has_page_data = true};

  const auto decoded = decode(to_header(grant), kPages);

  ASSERT_TRUE(decoded.has_value()) << decoded.error().what;
  EXPECT_EQ(*decoded, grant);
}

TEST(WireCodec, EncodedBytesDecodeToTheSameMessage) {
  const Message request{.type = MessageType::kReadRequest,
                        .flags = kFlagPrefetch,
                        .sender = 3,
                        .page = 15,
                        .request_id = 1234};
  std::array<std::uint8_t, kHeaderSize> bytes{};
  encode(request, bytes);

  const auto decoded = decode_bytes(bytes, kPages);

  ASSERT_TRUE(decoded.has_value()) << decoded.error().what;
  EXPECT_EQ(*decoded, request);
}

TEST(WireCodec, RejectsUnknownType) {
  const auto decoded = decode(Header{.type = 42}, kPages);

  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().what, "unknown coherence message type 42 (0x2a)");
}

TEST(WireCodec, RejectsTypeZero) {
  EXPECT_FALSE(decode(Header{.type = 0}, kPages).has_value());
}

TEST(WireCodec, RejectsPayloadOnInvalidate) {
  const auto decoded = decode(header_of(MessageType::kInvalidate, kPageSize), kPages);

  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().what, "malformed coherence message (Invalidate, type 0x3): bad size: it carries 4096 "
            "payload bytes (allowed: 0)");
}

TEST(WireCodec, RejectsFetchReplyWithoutPage) {
  EXPECT_FALSE(decode(header_of(MessageType::kFetchReply, 0), kPages).has_value());
}

TEST(WireCodec, RejectsGrantWithPartialPage) {
  EXPECT_FALSE(decode(header_of(MessageType::kGrant, 100), kPages).has_value());
}

TEST(WireCodec, RejectsPageOutOfRange) {
  Header header = header_of(MessageType::kReadRequest);
  header.page = kPages;

  const auto decoded = decode(header, kPages);

  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().what, "malformed coherence message (ReadRequest, type 0x1): page 16 out of range (16 "
            "pages)");
}

TEST(WireCodec, RejectsUnknownFlagBits) {
  Header header = header_of(MessageType::kWriteRequest);
  header.flags = 0x8000;

  const auto decoded = decode(header, kPages);

  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().what, "malformed coherence message (WriteRequest, type 0x2): flags is 0x8000, must be 0");
}

TEST(WireCodec, RejectsBarrierWithNonZeroPage) {
  EXPECT_FALSE(decode(header_of(MessageType::kBarrier), kPages).has_value());
}

TEST(WireCodec, RejectsTruncatedFrame) {
  auto bytes = frame(header_of(MessageType::kFetchReply, kPageSize));
  bytes.resize(kHeaderSize + 100);

  EXPECT_FALSE(decode_bytes(bytes, kPages).has_value());
}

TEST(WireCodec, RejectsTruncatedHeader) {
  const auto bytes = frame(header_of(MessageType::kInvalidate));

  EXPECT_FALSE(decode_bytes(std::span(bytes).first(kHeaderSize - 1), kPages).has_value());
}

TEST(WireCodec, NamesEveryType) {
  EXPECT_EQ(type_name(MessageType::kFetchInvalidate), "FetchInvalidate");
  EXPECT_EQ(type_name(static_cast<MessageType>(200)), "Unknown");
}

}  // namespace
}  // namespace heca::coherence::wire

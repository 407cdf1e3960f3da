#include "io-aggregation/io_wire.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace heca::io {
namespace {

using coherence::wire::Header;

IoMessage round_trip(const IoMessage& message) {
  const EncodedIoMessage encoded = encode(message);
  auto decoded = decode(encoded.header, encoded.payload_bytes());
  EXPECT_TRUE(decoded.has_value()) << decoded.error().what;
  return decoded.value_or(IoMessage{});
}

std::string decode_error(const Header& header, std::span<const std::uint8_t> payload) {
  auto decoded = decode(header, payload);
  return decoded ? std::string("decoded") : decoded.error().what;
}

TEST(IoWire, PioReadRoundTripsWithPortInAddressField) {
  IoMessage m = make_read_request(false, 0x3f8, 1);
  m.sender = 2;
  m.request_id = 77;

  const EncodedIoMessage encoded = encode(m);

  EXPECT_EQ(encoded.header.type, 0x40);
  EXPECT_EQ(encoded.header.page, 0x3f8U);
  EXPECT_EQ(encoded.header.payload_length, 1U);
  EXPECT_EQ(round_trip(m), m);
}

TEST(IoWire, MmioWriteCarriesItsEightDataBytes) {
  const std::array<std::uint8_t, 8> data{1, 2, 3, 4, 5, 6, 7, 8};
  IoMessage m = make_write_request(true, 0xfee00000, data);
  m.request_id = 5;

  const IoMessage decoded = round_trip(m);

  EXPECT_EQ(decoded, m);
  EXPECT_EQ(std::vector<std::uint8_t>(decoded.bytes().begin(), decoded.bytes().end()),
            std::vector<std::uint8_t>(data.begin(), data.end()));
}

TEST(IoWire, ReplyWithoutDataAndUnclaimedFlagRoundTrips) {
  const IoMessage m = make_reply(9, {}, true);

  const IoMessage decoded = round_trip(m);

  EXPECT_EQ(decoded, m);
  EXPECT_EQ(decoded.flags, kFlagUnclaimed);
}

TEST(IoWire, GuestExitRoundTrips) {
  const IoMessage exit = make_guest_exit(0xdeadbeef);

  EXPECT_EQ(round_trip(exit), exit);
  EXPECT_EQ(encode(exit).header.payload_length, 4U);
}

TEST(IoWire, UnknownTypeIsRejectedByNumber) {
  Header h;
  h.type = 0x47;

  EXPECT_NE(decode_error(h, {}).find("unknown I/O message type 71"), std::string::npos);
}

// 0x46 carried interrupts until wire version 3; they are link messages now.
TEST(IoWire, TheRetiredInterruptTypeIsUnknown) {
  Header h;
  h.type = 0x46;
  h.payload_length = 8;
  const std::array<std::uint8_t, 8> payload{};

  EXPECT_NE(decode_error(h, payload).find("unknown I/O message type 70"), std::string::npos);
}

TEST(IoWire, CoherenceTypeIsNotAnIoMessage) {
  Header h;
  h.type = 1;

  EXPECT_NE(decode_error(h, {}).find("unknown I/O message type"), std::string::npos);
}

TEST(IoWire, PioWriteOfThreeBytesIsABadSize) {
  const EncodedIoMessage e = encode(make_write_request(false, 0x80, std::array<std::uint8_t, 4>{}));
  Header h = e.header;
  h.payload_length = 3;
  const std::array<std::uint8_t, 3> payload{};

  EXPECT_NE(decode_error(h, payload).find("bad size"), std::string::npos);
}

TEST(IoWire, EightBytePioIsRefusedButEightByteMmioIsNot) {
  const std::array<std::uint8_t, 8> data{};
  Header pio = encode(make_write_request(true, 0x80, data)).header;
  pio.type = static_cast<std::uint8_t>(IoMessageType::kPioWrite);
  const Header mmio = encode(make_write_request(true, 0x80, data)).header;

  EXPECT_NE(decode_error(pio, data).find("bad size"), std::string::npos);
  EXPECT_EQ(decode_error(mmio, data), "decoded");
}

TEST(IoWire, ReadRequestWithBadSizeByteIsRejected) {
  const Header h = encode(make_read_request(false, 0x60, 1)).header;
  const std::array<std::uint8_t, 1> size{3};

  EXPECT_NE(decode_error(h, size).find("access size 3"), std::string::npos);
}

TEST(IoWire, PayloadShorterThanHeaderSaysIsRejected) {
  const Header h = encode(make_write_request(false, 0x60, std::array<std::uint8_t, 4>{})).header;
  const std::array<std::uint8_t, 2> payload{};

  EXPECT_NE(decode_error(h, payload).find("payload of 2 bytes"), std::string::npos);
}

TEST(IoWire, UnknownFlagsAreRejected) {
  Header h = encode(make_read_request(false, 0x60, 1)).header;
  h.flags = kFlagUnclaimed;
  const std::array<std::uint8_t, 1> size{1};

  EXPECT_NE(decode_error(h, size).find("flags is 0x1, must be 0"), std::string::npos);
}

TEST(IoWire, PortBeyondPortSpaceIsRejected) {
  Header h = encode(make_read_request(false, 0x60, 1)).header;
  h.page = 0x10000;
  const std::array<std::uint8_t, 1> size{1};

  EXPECT_NE(decode_error(h, size).find("page (port) 0x10000 is above 0xffff"), std::string::npos);
}

TEST(IoWire, GuestExitWithAddressIsRejected) {
  const EncodedIoMessage e = encode(make_guest_exit(3));
  Header h = e.header;
  h.page = 4;

  EXPECT_NE(decode_error(h, e.payload_bytes()).find("page is 0x4, must be 0"), std::string::npos);
}

}  // namespace
}  // namespace heca::io

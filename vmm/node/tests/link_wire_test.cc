// The node links' codec: every message round-trips; anything encode_link cannot produce is
// refused with a message naming the field.
#include "vmm/node/link_wire.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace heca::vmm::node {
namespace {

using coherence::wire::Header;

std::string error_of(const Header& header, coherence::NodeId from = 3) {
  auto decoded = decode_link(header, {}, from);
  return decoded ? std::string("<decoded>") : decoded.error().what;
}

TEST(LinkWire, EveryMessageRoundTrips) {
  const LinkMessage messages[] = {
      ForwardedInterrupt{.kind = IpiKind::kSipi, .apic_id = 0xFFFFFFFF, .vector = 0x08},
      ForwardedInterrupt{.kind = IpiKind::kNmi, .apic_id = 0, .vector = 0},
      TscProbe{.sequence = 0xFFFFFFFFFFFFFFFF},
      TscReply{.sequence = 7, .tsc = 0x123456789ABCDEF0},
      GuestStop{.exit_code = 123},
      GuestStop{.exit_code = 0},
  };
  for (const LinkMessage& message : messages) {
    const Header header = encode_link(message, 3);
    EXPECT_EQ(header.sender, 3);
    EXPECT_EQ(header.payload_length, 0u);
    auto back = decode_link(header, {}, 3);
    ASSERT_TRUE(back.has_value()) << back.error().what;
    EXPECT_EQ(*back, message);
  }
}

TEST(LinkWire, UnknownTypesAreRefusedByNumber) {
  EXPECT_EQ(error_of({.type = 0x54, .sender = 3}), "unknown link message type 84 (0x54)");
  EXPECT_EQ(error_of({.type = 0x01, .sender = 3}), "unknown link message type 1 (0x1)");
  EXPECT_EQ(error_of({.type = 0xFF, .sender = 3}), "unknown link message type 255 (0xff)");
}

TEST(LinkWire, APayloadOrAnotherSenderIsRefused) {
  Header with_payload = encode_link(GuestStop{.exit_code = 1}, 3);
  with_payload.payload_length = 4;
  const std::array<std::uint8_t, 4> payload{};
  auto decoded = decode_link(with_payload, payload, 3);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_NE(decoded.error().what.find("4 payload bytes"), std::string::npos)
      << decoded.error().what;
  EXPECT_NE(
      error_of(encode_link(TscProbe{.sequence = 1}, 2), 3).find("sender 2 on the link from node 3"),
      std::string::npos);
}

TEST(LinkWire, FieldsOutOfRangeAreNamed) {
  Header ipi = encode_link(ForwardedInterrupt{}, 3);
  ipi.flags = 4;
  EXPECT_NE(error_of(ipi).find("flags (IPI kind) 0x4 is above 0x3"), std::string::npos)
      << error_of(ipi);
  ipi = encode_link(ForwardedInterrupt{}, 3);
  ipi.page = 0x100000000;
  EXPECT_NE(error_of(ipi).find("page (APIC id)"), std::string::npos) << error_of(ipi);
  ipi = encode_link(ForwardedInterrupt{}, 3);
  ipi.request_id = 0x100;
  EXPECT_NE(error_of(ipi).find("request_id (vector) 0x100"), std::string::npos) << error_of(ipi);
  Header stop = encode_link(GuestStop{}, 3);
  stop.page = 256;
  EXPECT_NE(error_of(stop).find("page (exit code) 0x100 is above 0xff"), std::string::npos)
      << error_of(stop);
}

TEST(LinkWire, FieldsThatMustBeZeroAreChecked) {
  Header probe = encode_link(TscProbe{.sequence = 1}, 3);
  probe.page = 9;
  EXPECT_NE(error_of(probe).find("TSC probe, type 0x51): page is 0x9, must be 0"),
            std::string::npos)
      << error_of(probe);
  Header reply = encode_link(TscReply{}, 3);
  reply.flags = 1;
  EXPECT_NE(error_of(reply).find("flags is 0x1"), std::string::npos) << error_of(reply);
  Header stop = encode_link(GuestStop{}, 3);
  stop.request_id = 5;
  EXPECT_NE(error_of(stop).find("request_id is 0x5"), std::string::npos) << error_of(stop);
}

}  // namespace
}  // namespace heca::vmm::node

// A seeded random fuzz loop over the I/O decoder: mutated valid messages and raw random
// headers must be either rejected or decoded to a message that encodes back to the same bytes.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "io-aggregation/io_wire.h"

namespace heca::io {
namespace {

using coherence::wire::Header;

constexpr std::uint64_t kSeed = 0x10f0d;
constexpr int kIterations = 200000;

IoMessage random_valid(std::mt19937_64& rng) {
  const std::array<std::uint8_t, 8> data{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  const std::array<std::size_t, 4> sizes{1, 2, 4, 8};
  const std::size_t size = sizes[rng() % 3];
  switch (rng() % 6) {
    case 0:
      return make_read_request(false, rng() % 0x10000, size);
    case 1:
      return make_write_request(false, rng() % 0x10000, std::span(data).first(size));
    case 2:
      return make_read_request(true, rng(), sizes[rng() % 4]);
    case 3:
      return make_write_request(true, rng(), std::span(data).first(sizes[rng() % 4]));
    case 4:
      return make_reply(rng(), std::span(data).first(sizes[rng() % 4]), (rng() & 1) != 0);
    default:
      return make_guest_exit(static_cast<std::uint32_t>(rng()));
  }
}

// Flips one field or byte of an encoded message.
void mutate(std::mt19937_64& rng, Header& h, std::vector<std::uint8_t>& payload) {
  switch (rng() % 6) {
    case 0:
      h.type = static_cast<std::uint8_t>(0x3e + rng() % 12);
      break;
    case 1:
      h.flags = static_cast<std::uint16_t>(1U << (rng() % 16));
      break;
    case 2:
      h.payload_length = static_cast<std::uint32_t>(rng() % 12);
      break;
    case 3:
      h.page ^= 1ULL << (rng() % 64);
      break;
    case 4:
      payload.resize(rng() % 12);
      break;
    default:
      if (!payload.empty())
        payload[rng() % payload.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
      break;
  }
}

// Decoding either fails with a reason or yields a message whose encoding is what was decoded.
void expect_consistent(const Header& h, const std::vector<std::uint8_t>& payload) {
  auto decoded = decode(h, payload);
  if (!decoded) {
    EXPECT_FALSE(decoded.error().what.empty());
    return;
  }
  const EncodedIoMessage again = encode(*decoded);
  EXPECT_EQ(again.header.type, h.type);
  EXPECT_EQ(again.header.flags, h.flags);
  EXPECT_EQ(again.header.page, h.page);
  EXPECT_EQ(again.header.payload_length, payload.size());
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), again.payload.begin()));
}

TEST(IoWireFuzz, MutatedMessagesAreRejectedOrReencodeIdentically) {
  std::mt19937_64 rng(kSeed);
  for (int i = 0; i < kIterations; ++i) {
    const EncodedIoMessage e = encode(random_valid(rng));
    Header h = e.header;
    std::vector<std::uint8_t> payload(e.payload_bytes().begin(), e.payload_bytes().end());
    mutate(rng, h, payload);
    expect_consistent(h, payload);
  }
}

TEST(IoWireFuzz, RandomHeadersAndPayloadsNeverCrashTheDecoder) {
  std::mt19937_64 rng(kSeed + 1);
  for (int i = 0; i < kIterations; ++i) {
    Header h;
    h.type = static_cast<std::uint8_t>(rng());
    h.flags = static_cast<std::uint16_t>(rng() % 4 == 0 ? rng() : 0);
    h.payload_length = static_cast<std::uint32_t>(rng() % 16);
    h.page = rng() % 2 == 0 ? rng() % 0x20000 : 0;
    std::vector<std::uint8_t> payload(rng() % 2 == 0 ? h.payload_length : rng() % 16);
    for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
    expect_consistent(h, payload);
  }
}

}  // namespace
}  // namespace heca::io

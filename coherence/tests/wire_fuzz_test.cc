// Fuzzes the codec, and the protocol behind it, with random and mutated frames (seeded).
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "coherence/protocol.h"
#include "coherence/wire.h"

namespace heca::coherence::wire {
namespace {

constexpr std::uint64_t kPages = 8;
constexpr int kCases = 100'000;

std::vector<std::uint8_t> valid_frame(std::mt19937_64& rng) {
  Message message{.type = static_cast<MessageType>(1 + rng() % kMaxMessageType),
                  .flags = static_cast<std::uint16_t>(rng() % 2),
                  .sender = static_cast<NodeId>(rng() % 3),
                  .page = rng() % kPages,
                  .request_id = rng() % 8,
                  .has_page_data = rng() % 2 == 0};
  std::vector<std::uint8_t> bytes(kHeaderSize + (message.has_page_data ? kPageSize : 0));
  encode(message, std::span<std::uint8_t, kHeaderSize>(bytes.data(), kHeaderSize));
  return bytes;
}

void mutate(std::vector<std::uint8_t>& bytes, std::mt19937_64& rng) {
  const auto edits = 1 + rng() % 4;
  for (std::uint64_t i = 0; i < edits; ++i) {
    switch (rng() % 3) {
      case 0:
        if (!bytes.empty()) bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
        break;
      case 1:
        bytes.resize(rng() % (bytes.size() + 1));
        break;
      default:
        bytes.push_back(static_cast<std::uint8_t>(rng()));
    }
  }
}

TEST(WireFuzz, DecodeNeverCrashesOnRandomOrMutatedBytes) {
  std::mt19937_64 rng(20261122);
  int accepted = 0;
  for (int i = 0; i < kCases; ++i) {
    std::vector<std::uint8_t> bytes = valid_frame(rng);
    if (i % 4 == 0) {
      bytes.resize(rng() % 64);
      for (auto& byte : bytes) byte = static_cast<std::uint8_t>(rng());
    } else {
      mutate(bytes, rng);
    }

    const auto decoded = decode_bytes(bytes, kPages);

    if (!decoded) continue;
    ++accepted;
    ASSERT_LT(decoded->page, kPages);
    ASSERT_EQ(decoded->has_page_data, bytes.size() == kHeaderSize + kPageSize);
  }
  EXPECT_GT(accepted, 0);
}

// Whatever well-framed messages peers send, a node reports violations and never aborts.
TEST(WireFuzz, ProtocolSurvivesArbitraryValidMessages) {
  std::mt19937_64 rng(7);
  Protocol protocol(ProtocolConfig{.self = 1, .homes = HomeMap::even_ranges(kPages, 3)});
  Actions actions;
  for (int i = 0; i < kCases; ++i) {
    auto bytes = valid_frame(rng);
    const auto decoded = decode_bytes(bytes, kPages);
    if (!decoded) continue;
    actions.clear();
    if (rng() % 8 == 0) {
      protocol.on_fault(rng() % kPages, rng() % 2 ? Access::kRead : Access::kWrite, Nanos(i),
                        actions);
    }
    (void)protocol.on_message(decoded->sender, *decoded, Nanos(i), actions);
    if (rng() % 16 == 0) protocol.on_timer(rng() % kPages, Nanos(i + 1'000'000), actions);
  }
  SUCCEED();
}

}  // namespace
}  // namespace heca::coherence::wire

// A libFuzzer target for every decoder of heca's wire: the frame header, the coherence, I/O
// and node-link codecs, and the handshake's hello, hello reply and key proof.
//
// An input is the bytes a connection delivers. Frames (header, then up to payload_length bytes)
// are cut from its front until a header does not decode, and every frame goes through every
// family's decoder whatever its type byte, so that cross-family confusion is covered: at most one
// family may accept a frame. The first kHelloReplySize bytes are also read as the handshake's
// hello, as a hello reply (the connector's check) and as a hello followed by a key proof (the
// acceptor's check), against a fixed test key. Whatever a decoder accepts must encode back to
// the same bytes and decode again to an equal message; a decoder that breaks this traps
// (__builtin_trap), so libFuzzer reports it as a crash. Sanitizers report the rest.
//
// HECA_WIRE_FUZZ_WRITE_SEEDS=DIR: write one real encoded input per message type (and the
// handshake's three messages, and a stream of several frames) to DIR, check that each decodes,
// and exit. tests/fuzz/run seeds the corpus this way.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "coherence/peer_auth.h"
#include "coherence/wire.h"
#include "coherence/wire_header.h"
#include "io-aggregation/io_wire.h"
#include "kernel/base/check.h"
#include "vmm/node/link_wire.h"

namespace heca::fuzz {
namespace {

namespace wire = coherence::wire;
using coherence::kHelloReplySize;
using coherence::kHelloSize;
using coherence::kProofSize;
using coherence::NodeId;
using vmm::node::LinkMessage;
using Bytes = std::span<const std::uint8_t>;
using Buffer = std::vector<std::uint8_t>;

constexpr std::uint64_t kPageCount = 65536;  // the coherence decoder's page range
constexpr NodeId kLinkPeer = 1;              // the node a link frame is taken to come from
constexpr NodeId kConnector = 0;             // handshake: this node dials ...
constexpr NodeId kAcceptor = 1;              // ... this one

// A decoder broke a round trip or a cross-family rule: report it as a crash.
void require(bool ok) {
  if (!ok) __builtin_trap();
}

bool same_header(const wire::Header& a, const wire::Header& b) {
  return a.type == b.type && a.flags == b.flags && a.payload_length == b.payload_length &&
         a.sender == b.sender && a.page == b.page && a.request_id == b.request_id;
}

const coherence::ClusterKey& test_key() {
  static const coherence::ClusterKey key = [] {
    coherence::ClusterKey k;
    for (std::size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = static_cast<std::uint8_t>(i + 1);
    return k;
  }();
  return key;
}

coherence::Nonce fixed_nonce(std::uint8_t first) {
  coherence::Nonce nonce{};
  for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<std::uint8_t>(first + i);
  return nonce;
}

const coherence::Nonce& connector_nonce() {
  static const coherence::Nonce nonce = fixed_nonce(0x10);
  return nonce;
}

const coherence::Nonce& acceptor_nonce() {
  static const coherence::Nonce nonce = fixed_nonce(0xa0);
  return nonce;
}

// ---- frames ----

// decode_header accepted `head`: its fields encode back to exactly these 32 bytes.
void check_header_round_trip(Bytes head, const wire::Header& header) {
  std::array<std::uint8_t, wire::kHeaderSize> again{};
  wire::encode_header(header, again);
  require(std::ranges::equal(again, head));
  const auto redecoded = wire::decode_header(again);
  require(redecoded && same_header(*redecoded, header));
}

// `frame` is the header and the payload bytes that followed it (maybe fewer than it announces).
bool coherence_accepts(const wire::Header& header, Bytes frame) {
  const auto message = wire::decode(header, kPageCount);
  const auto from_bytes = wire::decode_bytes(frame, kPageCount);
  const bool complete = frame.size() == wire::kHeaderSize + header.payload_length;
  require(from_bytes.has_value() == (message.has_value() && complete));
  if (!message) return false;
  if (from_bytes) require(*from_bytes == *message);
  require(same_header(wire::to_header(*message), header));
  Buffer again(wire::kHeaderSize + header.payload_length);
  wire::encode(*message,
               std::span<std::uint8_t, wire::kHeaderSize>(again.data(), wire::kHeaderSize));
  const auto redecoded = wire::decode_bytes(again, kPageCount);
  require(redecoded && *redecoded == *message);
  return true;
}

bool io_accepts(const wire::Header& header, Bytes payload) {
  const auto message = io::decode(header, payload);
  if (!message) return false;
  require(io::validate_header(header).has_value());
  const io::EncodedIoMessage again = io::encode(*message);
  require(same_header(again.header, header));
  require(std::ranges::equal(again.payload_bytes(), payload));
  const auto redecoded = io::decode(again.header, again.payload_bytes());
  require(redecoded && *redecoded == *message);
  return true;
}

bool link_accepts(const wire::Header& header, Bytes payload) {
  // From the node the header names (the deep path), and from kLinkPeer, which must agree.
  const auto message = vmm::node::decode_link(header, payload, header.sender);
  const auto from_peer = vmm::node::decode_link(header, payload, kLinkPeer);
  require(from_peer.has_value() == (message.has_value() && header.sender == kLinkPeer));
  if (!message) return false;
  const wire::Header again = vmm::node::encode_link(*message, header.sender);
  require(same_header(again, header));
  const auto redecoded = vmm::node::decode_link(again, {}, header.sender);
  require(redecoded && *redecoded == *message);
  return true;
}

// Decodes the frames at the front of `input` as a connection would; returns how many frames
// some family accepted.
int check_frames(Bytes input) {
  int accepted = 0;
  while (input.size() >= wire::kHeaderSize) {
    const auto header = wire::decode_header(input);
    if (!header) return accepted;
    check_header_round_trip(input.first(wire::kHeaderSize), *header);
    const std::size_t available = input.size() - wire::kHeaderSize;
    const Bytes frame =
        input.first(wire::kHeaderSize + std::min<std::size_t>(header->payload_length, available));
    const Bytes payload = frame.subspan(wire::kHeaderSize);
    const int families = int{coherence_accepts(*header, frame)} +
                         int{io_accepts(*header, payload)} + int{link_accepts(*header, payload)};
    require(families <= 1);
    accepted += families;
    input = input.subspan(frame.size());
  }
  require(!wire::decode_header(input));  // fewer than 32 bytes left
  return accepted;
}

// The whole input as one coherence frame: only an input of exactly one frame may decode.
void check_single_frame(Bytes input) {
  const auto message = wire::decode_bytes(input, kPageCount);
  if (!message) return;
  require(input.size() == wire::kHeaderSize + wire::to_header(*message).payload_length);
}

// ---- handshake ----

bool hello_accepted(Bytes input) {
  if (input.size() < kHelloSize) return false;
  const auto hello = coherence::decode_hello(input.first<kHelloSize>());
  if (!hello) return false;
  require(std::ranges::equal(coherence::encode_hello(*hello), input.first(kHelloSize)));
  return true;
}

// A Hello frame and a KeyProof frame of the same node, as a reply (or a hello and its proof).
Buffer hello_with_mac(const coherence::Hello& hello, const coherence::Mac& mac) {
  const auto head = coherence::encode_hello(hello);
  const auto proof = coherence::encode_proof(hello.id, mac);
  Buffer bytes(head.begin(), head.end());
  bytes.insert(bytes.end(), proof.begin(), proof.end());
  return bytes;
}

// The connector's check of the acceptor's reply (TcpPeer::consume_hello): it names the node
// dialled and its MAC proves the key over the connector's nonce.
bool reply_accepted(Bytes input) {
  if (input.size() < kHelloReplySize) return false;
  const auto hello = coherence::decode_hello(input.first<kHelloSize>());
  if (!hello || hello->id != kAcceptor) return false;
  const coherence::Mac expected =
      coherence::accept_mac(test_key(), kConnector, kAcceptor, connector_nonce(), hello->nonce);
  const auto mac = coherence::decode_proof(input.subspan<kHelloSize, kProofSize>(), kAcceptor);
  if (!mac || !coherence::mac_matches(expected, *mac)) return false;
  require(std::ranges::equal(hello_with_mac(*hello, expected), input.first(kHelloReplySize)));
  return true;
}

// The acceptor's check of the connector's hello and proof (TcpTransport::on_pending_proof).
bool proof_accepted(Bytes input) {
  if (input.size() < kHelloSize + coherence::kProofSize) return false;
  const auto hello = coherence::decode_hello(input.first<kHelloSize>());
  if (!hello) return false;
  const coherence::Mac expected =
      coherence::connect_mac(test_key(), hello->id, kAcceptor, hello->nonce, acceptor_nonce());
  const auto mac = coherence::decode_proof(input.subspan<kHelloSize, kProofSize>(), hello->id);
  if (!mac || !coherence::mac_matches(expected, *mac)) return false;
  require(std::ranges::equal(hello_with_mac(*hello, expected),
                             input.first(kHelloSize + coherence::kProofSize)));
  return true;
}

// ---- seeds ----

struct Seed {
  std::string name;
  Buffer bytes;
  int frames = 0;  // frames of it that must decode; 0 for the handshake's messages
};

Buffer header_bytes(const wire::Header& header, Bytes payload) {
  Buffer bytes(wire::kHeaderSize);
  wire::encode_header(header,
                      std::span<std::uint8_t, wire::kHeaderSize>(bytes.data(), wire::kHeaderSize));
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

Seed coherence_seed(const wire::Message& message) {
  Buffer page(message.has_page_data ? coherence::kPageSize : 0);
  for (std::size_t i = 0; i < page.size(); ++i) page[i] = static_cast<std::uint8_t>(i * 7);
  return {"coherence-" + std::string(wire::type_name(message.type)) +
              (message.has_page_data ? "-data" : ""),
          header_bytes(wire::to_header(message), page), 1};
}

std::vector<Seed> coherence_seeds() {
  using wire::MessageType;
  const auto m = [](MessageType type, std::uint16_t flags, std::uint64_t page, bool data) {
    return coherence_seed({.type = type,
                           .flags = flags,
                           .sender = 2,
                           .page = page,
                           .request_id = 41,
                           .has_page_data = data});
  };
  return {m(MessageType::kReadRequest, wire::kFlagPrefetch, 7, false),
          m(MessageType::kWriteRequest, 0, 7, false),
          m(MessageType::kInvalidate, 0, 7, false),
          m(MessageType::kInvalidateAck, wire::kFlagAfterHold, 7, false),
          m(MessageType::kFetch, 0, 7, false),
          m(MessageType::kFetchInvalidate, 0, 7, false),
          m(MessageType::kFetchReply, wire::kFlagAfterHold, 7, true),
          m(MessageType::kGrant, wire::kFlagGrantWrite | wire::kFlagGrantDelayed, 7, true),
          m(MessageType::kGrant, 0, kPageCount - 1, false),
          m(MessageType::kBarrier, wire::kFlagFinalBarrier, 0, false)};
}

Seed io_seed(io::IoMessage message, std::uint64_t request_id) {
  message.sender = 3;
  message.request_id = request_id;
  const io::EncodedIoMessage encoded = io::encode(message);
  return {"io-" + std::string(io::type_name(message.type)) + "-" + std::to_string(message.size),
          header_bytes(encoded.header, encoded.payload_bytes()), 1};
}

std::vector<Seed> io_seeds() {
  const std::array<std::uint8_t, 8> data{0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48};
  const Bytes bytes{data};
  return {io_seed(io::make_read_request(false, 0x3f8, 1), 1),
          io_seed(io::make_write_request(false, 0xcf8, bytes.first(4)), 2),
          io_seed(io::make_read_request(true, 0xfee00020, 4), 3),
          io_seed(io::make_write_request(true, 0xfec00000, bytes), 4),
          io_seed(io::make_reply(3, bytes.first(2), false), 3),
          io_seed(io::make_reply(4, {}, true), 4),
          io_seed(io::make_guest_exit(33), 0)};
}

Seed link_seed(const std::string& name, const LinkMessage& message) {
  return {"link-" + name, header_bytes(vmm::node::encode_link(message, kLinkPeer), {}), 1};
}

std::vector<Seed> link_seeds() {
  using vmm::node::IpiKind;
  const auto ipi = [](IpiKind kind) {
    return vmm::node::ForwardedInterrupt{.kind = kind, .apic_id = 5, .vector = 0xec};
  };
  return {link_seed("interrupt-fixed", ipi(IpiKind::kFixed)),
          link_seed("interrupt-nmi", ipi(IpiKind::kNmi)),
          link_seed("interrupt-init", ipi(IpiKind::kInit)),
          link_seed("interrupt-sipi", ipi(IpiKind::kSipi)),
          link_seed("tsc-probe", vmm::node::TscProbe{.sequence = 9}),
          link_seed("tsc-reply", vmm::node::TscReply{.sequence = 9, .tsc = 123456789}),
          link_seed("guest-stop", vmm::node::GuestStop{.exit_code = 3})};
}

std::vector<Seed> handshake_seeds() {
  const coherence::Hello connector{.id = kConnector, .nonce = connector_nonce()};
  const coherence::Hello acceptor{.id = kAcceptor, .nonce = acceptor_nonce()};
  const auto hello = coherence::encode_hello(connector);
  return {{"hello", Buffer(hello.begin(), hello.end()), 0},
          {"hello-reply",
           hello_with_mac(acceptor, coherence::accept_mac(test_key(), kConnector, kAcceptor,
                                                          connector.nonce, acceptor.nonce)),
           0},
          {"hello-proof",
           hello_with_mac(connector, coherence::connect_mac(test_key(), kConnector, kAcceptor,
                                                            connector.nonce, acceptor.nonce)),
           0}};
}

// Frames of all three families back to back, as a connection carries them.
Seed stream_seed(const std::vector<Seed>& frames) {
  Seed stream{"stream", {}, 0};
  for (const Seed& seed : frames) {
    stream.bytes.insert(stream.bytes.end(), seed.bytes.begin(), seed.bytes.end());
    stream.frames += seed.frames;
  }
  return stream;
}

std::vector<Seed> all_seeds() {
  std::vector<Seed> seeds = coherence_seeds();
  const std::vector<Seed> io = io_seeds();
  const std::vector<Seed> link = link_seeds();
  const std::vector<Seed> handshake = handshake_seeds();
  seeds.push_back(stream_seed({seeds[0], seeds[7], io[1], io[4], link[0], link[6]}));
  seeds.insert(seeds.end(), io.begin(), io.end());
  seeds.insert(seeds.end(), link.begin(), link.end());
  seeds.insert(seeds.end(), handshake.begin(), handshake.end());
  return seeds;
}

// INVARIANT: every seed is a real message that its decoder accepts.
void write_seeds(const std::string& dir) {
  int index = 0;
  for (const Seed& seed : all_seeds()) {
    const bool handshake = seed.frames == 0;
    HECA_CHECK(handshake || check_frames(seed.bytes) == seed.frames);
    HECA_CHECK(!handshake || hello_accepted(seed.bytes));
    HECA_CHECK(seed.name != "hello-reply" || reply_accepted(seed.bytes));
    HECA_CHECK(seed.name != "hello-proof" || proof_accepted(seed.bytes));
    const std::string path =
        dir + "/" + (index < 10 ? "0" : "") + std::to_string(index) + "-" + seed.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seed.bytes.data()),
              static_cast<std::streamsize>(seed.bytes.size()));
    HECA_CHECK(out.good());
    ++index;
  }
}

}  // namespace
}  // namespace heca::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (const char* dir = std::getenv("HECA_WIRE_FUZZ_WRITE_SEEDS")) {
    heca::fuzz::write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const heca::fuzz::Bytes input(data, size);
  heca::fuzz::check_frames(input);
  heca::fuzz::check_single_frame(input);
  heca::fuzz::hello_accepted(input);
  heca::fuzz::reply_accepted(input);
  heca::fuzz::proof_accepted(input);
  return 0;
}

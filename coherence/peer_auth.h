// Peer authentication: every node of a cluster holds one shared key, and both ends of every
// connection prove it before a page, an I/O request or an interrupt crosses it.
//
// The handshake, a challenge-response over fresh nonces with HMAC-SHA-256 (libsodium's
// crypto_auth_hmacsha256), in frames of the handshake family (coherence/wire_header.h and
// wire_rules.h; the frame header's version is the handshake's too):
//   Hello     0x60  sender = the node's id, payload = its nonce (32 bytes)
//   KeyProof  0x61  sender = the node's id, payload = its MAC (32 bytes)
//   connector -> acceptor  Hello(nonce_c)
//   acceptor -> connector  Hello(nonce_a), KeyProof(mac_a = HMAC(key, "heca accept" | ids |
//                          nonce_c | nonce_a))
//   connector -> acceptor  KeyProof(mac_c = HMAC(key, "heca connect" | ids | nonce_a | nonce_c))
// where ids = connector id, acceptor id (u16 each, little-endian). Each side checks the other's MAC over its
// own fresh nonce, so a recorded handshake replayed to either side fails; the two labels keep
// one direction's MAC from answering the other's challenge.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "coherence/types.h"
#include "coherence/wire_header.h"
#include "kernel/base/result.h"

namespace heca::coherence {

inline constexpr std::size_t kClusterKeySize = 32;
inline constexpr std::size_t kNonceSize = 32;
inline constexpr std::size_t kMacSize = 32;

// The cluster's shared secret. All zeros only where a test builds a transport in-process;
// load_cluster_key never returns it.
struct ClusterKey {
  std::array<std::uint8_t, kClusterKeySize> bytes{};
};

// Reads a key file: 64 hex digits (an optional trailing newline). Errors name the file and the
// problem: missing, readable or writable by group or others (it must be mode 0600 or
// stricter), not 64 hex digits, all zeros.
[[nodiscard]] Result<ClusterKey> load_cluster_key(const std::string& path);
// Writes a fresh random key to `path` (created mode 0600; fails if the file exists).
[[nodiscard]] Status write_new_cluster_key(const std::string& path);

using Nonce = std::array<std::uint8_t, kNonceSize>;
using Mac = std::array<std::uint8_t, kMacSize>;
[[nodiscard]] Nonce fresh_nonce();

inline constexpr std::uint8_t kHelloType = 0x60;
inline constexpr std::uint8_t kKeyProofType = 0x61;
inline constexpr std::size_t kHelloSize = wire::kHeaderSize + kNonceSize;
inline constexpr std::size_t kProofSize = wire::kHeaderSize + kMacSize;
inline constexpr std::size_t kHelloReplySize = kHelloSize + kProofSize;

struct Hello {
  NodeId id = 0;
  Nonce nonce{};
};
[[nodiscard]] std::array<std::uint8_t, kHelloSize> encode_hello(const Hello& hello);
// A Hello frame (a connector's, or the first kHelloSize bytes of a reply). Errors name the
// problem: not a heca frame, another wire version, another type, a malformed field.
[[nodiscard]] Result<Hello> decode_hello(std::span<const std::uint8_t, kHelloSize> bytes);
[[nodiscard]] std::array<std::uint8_t, kProofSize> encode_proof(NodeId sender, const Mac& mac);
// The MAC of a KeyProof frame sent by node `from`; errors as decode_hello's, or another sender.
[[nodiscard]] Result<Mac> decode_proof(std::span<const std::uint8_t, kProofSize> bytes,
                                       NodeId from);

// The MAC each side sends: the acceptor's over (nonce_c, nonce_a), the connector's over
// (nonce_a, nonce_c), each with its own label.
[[nodiscard]] Mac accept_mac(const ClusterKey& key, NodeId connector, NodeId acceptor,
                             const Nonce& connector_nonce, const Nonce& acceptor_nonce);
[[nodiscard]] Mac connect_mac(const ClusterKey& key, NodeId connector, NodeId acceptor,
                              const Nonce& connector_nonce, const Nonce& acceptor_nonce);
// Constant-time comparison of a received MAC with the expected one.
[[nodiscard]] bool mac_matches(const Mac& expected, const Mac& got);

}  // namespace heca::coherence

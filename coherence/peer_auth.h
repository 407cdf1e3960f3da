// Peer authentication: every node of a cluster holds one shared key, and both ends of every
// connection prove it before a page, an I/O request or an interrupt crosses it.
//
// The handshake (all integers little-endian), a challenge-response over fresh nonces with
// HMAC-SHA-256 (libsodium's crypto_auth_hmacsha256):
//   connector -> acceptor  hello  u32 magic "HELO", u16 version, u16 node id, nonce_c[32]
//   acceptor -> connector  reply  u32 magic "HELO", u16 version, u16 node id, nonce_a[32],
//                                 mac_a[32] = HMAC(key, "heca accept" | ids | nonce_c | nonce_a)
//   connector -> acceptor  proof  mac_c[32] = HMAC(key, "heca connect" | ids | nonce_a | nonce_c)
// where ids = connector id, acceptor id (u16 each). Each side checks the other's MAC over its
// own fresh nonce, so a recorded handshake replayed to either side fails; the two labels keep
// one direction's MAC from answering the other's challenge.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "coherence/types.h"
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

inline constexpr std::uint32_t kHelloMagic = 0x4f4c4548;
inline constexpr std::uint16_t kHelloVersion = 2;  // 1: the unauthenticated hello
inline constexpr std::size_t kHelloSize = 8 + kNonceSize;
inline constexpr std::size_t kHelloReplySize = kHelloSize + kMacSize;
inline constexpr std::size_t kProofSize = kMacSize;

struct Hello {
  NodeId id = 0;
  Nonce nonce{};
};
[[nodiscard]] std::array<std::uint8_t, kHelloSize> encode_hello(const Hello& hello);
// A hello (or the first kHelloSize bytes of a reply); errors: wrong magic or version.
[[nodiscard]] Result<Hello> decode_hello(std::span<const std::uint8_t, kHelloSize> bytes);

// The MAC each side sends: the acceptor's over (nonce_c, nonce_a), the connector's over
// (nonce_a, nonce_c), each with its own label.
[[nodiscard]] Mac accept_mac(const ClusterKey& key, NodeId connector, NodeId acceptor,
                             const Nonce& connector_nonce, const Nonce& acceptor_nonce);
[[nodiscard]] Mac connect_mac(const ClusterKey& key, NodeId connector, NodeId acceptor,
                              const Nonce& connector_nonce, const Nonce& acceptor_nonce);
// Constant-time comparison of a received MAC with the expected one.
[[nodiscard]] bool mac_matches(const Mac& expected, std::span<const std::uint8_t, kMacSize> got);

}  // namespace heca::coherence

#include "coherence/peer_auth.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <string_view>

#include "coherence/wire_rules.h"
#include "kernel/base/check.h"
#include "kernel/base/fd.h"
#include "kernel/base/le_bytes.h"

namespace heca::coherence {
namespace {

constexpr std::size_t kKeyFileMax = 256;  // 64 hex digits and some whitespace, at most

void init_sodium() {
  // Thread-safe and idempotent; fails only when no randomness source can be opened.
  HECA_CHECK(::sodium_init() >= 0);
}

// Hello and KeyProof carry a 32-byte payload (nonce or MAC) and nothing else.
constexpr std::array<wire::TypeRule, 2> kHandshakeRules = {{
    {kHelloType, "Hello", wire::zero(), wire::zero(), wire::zero(),
     wire::lengths({static_cast<std::uint32_t>(kNonceSize)})},
    {kKeyProofType, "KeyProof", wire::zero(), wire::zero(), wire::zero(),
     wire::lengths({static_cast<std::uint32_t>(kMacSize)})},
}};
static_assert(kNonceSize == kMacSize);  // so both frames have one size: kHelloSize == kProofSize

// The header of a whole handshake frame (a Hello or a KeyProof), checked by the handshake
// family's rules; `from`, when given, must be its sender.
Result<wire::Header> check_handshake_frame(std::span<const std::uint8_t> bytes,
                                           std::optional<NodeId> from) {
  auto header = wire::decode_header(bytes);
  if (!header) return wrap_error(header.error(), "bad handshake (not a heca node of this version)");
  auto rule = wire::check_frame(wire::Family::kHandshake, kHandshakeRules, *header,
                                {.from = from, .payload = bytes.subspan(wire::kHeaderSize)});
  if (!rule) return std::unexpected(rule.error());
  return *header;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Mac mac_of(const ClusterKey& key, std::string_view label, NodeId connector, NodeId acceptor,
           const Nonce& first, const Nonce& second) {
  init_sodium();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.bytes.data(), key.bytes.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(label.data()),
                                label.size());
  std::array<std::uint8_t, 4> ids{};
  put_le<std::uint16_t>(ids, 0, connector);
  put_le<std::uint16_t>(ids, 2, acceptor);
  crypto_auth_hmacsha256_update(&state, ids.data(), ids.size());
  crypto_auth_hmacsha256_update(&state, first.data(), first.size());
  crypto_auth_hmacsha256_update(&state, second.data(), second.size());
  Mac mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  ::sodium_memzero(&state, sizeof(state));
  return mac;
}

}  // namespace

Result<ClusterKey> load_cluster_key(const std::string& path) {
  const std::string what = "cluster key file '" + path + "'";
  Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (!fd) return errno_error("cannot open " + what);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat " + what);
  if (!S_ISREG(st.st_mode)) return make_error(what + " is not a regular file", EINVAL);
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(what + " is open to group or others (mode " + mode +
                          "); it must be readable by its owner only: chmod 600 '" + path + "'",
                      EPERM);
  }
  std::array<char, kKeyFileMax> text{};
  const ssize_t n = ::read(fd.get(), text.data(), text.size());
  if (n < 0) return errno_error("cannot read " + what);
  std::string_view content(text.data(), static_cast<std::size_t>(n));
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
    content.remove_suffix(1);
  }
  const std::string expected = "must hold 64 hex digits (e.g. from: openssl rand -hex 32)";
  if (content.size() != 2 * kClusterKeySize) return make_error(what + " " + expected, EINVAL);
  ClusterKey key;
  for (std::size_t i = 0; i < kClusterKeySize; ++i) {
    const int hi = hex_value(content[2 * i]);
    const int lo = hex_value(content[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(what + " " + expected, EINVAL);
    key.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  if (std::ranges::all_of(key.bytes, [](std::uint8_t b) { return b == 0; })) {
    return make_error(what + " holds an all-zero key", EINVAL);
  }
  return key;
}

Status write_new_cluster_key(const std::string& path) {
  init_sodium();
  std::array<std::uint8_t, kClusterKeySize> key{};
  ::randombytes_buf(key.data(), key.size());
  std::array<char, 2 * kClusterKeySize + 2> hex{};
  ::sodium_bin2hex(hex.data(), hex.size() - 1, key.data(), key.size());
  hex[2 * kClusterKeySize] = '\n';
  ::sodium_memzero(key.data(), key.size());
  Fd fd{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (!fd) return errno_error("cannot create cluster key file '" + path + "'");
  const std::size_t length = 2 * kClusterKeySize + 1;
  if (::write(fd.get(), hex.data(), length) != static_cast<ssize_t>(length)) {
    return errno_error("cannot write cluster key file '" + path + "'");
  }
  return {};
}

Nonce fresh_nonce() {
  init_sodium();
  Nonce nonce{};
  ::randombytes_buf(nonce.data(), nonce.size());
  return nonce;
}

std::array<std::uint8_t, kHelloSize> encode_hello(const Hello& hello) {
  std::array<std::uint8_t, kHelloSize> bytes{};
  wire::encode_header({.type = kHelloType,
                       .payload_length = static_cast<std::uint32_t>(kNonceSize),
                       .sender = hello.id},
                      std::span<std::uint8_t, wire::kHeaderSize>(bytes.data(), wire::kHeaderSize));
  std::ranges::copy(hello.nonce, bytes.begin() + wire::kHeaderSize);
  return bytes;
}

Result<Hello> decode_hello(std::span<const std::uint8_t, kHelloSize> bytes) {
  auto header = check_handshake_frame(bytes, std::nullopt);
  if (!header) return std::unexpected(header.error());
  if (header->type != kHelloType) return make_error("bad hello: a KeyProof came first", EPROTO);
  Hello hello{.id = header->sender, .nonce = {}};
  std::copy_n(bytes.begin() + wire::kHeaderSize, kNonceSize, hello.nonce.begin());
  return hello;
}

std::array<std::uint8_t, kProofSize> encode_proof(NodeId sender, const Mac& mac) {
  std::array<std::uint8_t, kProofSize> bytes{};
  wire::encode_header({.type = kKeyProofType,
                       .payload_length = static_cast<std::uint32_t>(kMacSize),
                       .sender = sender},
                      std::span<std::uint8_t, wire::kHeaderSize>(bytes.data(), wire::kHeaderSize));
  std::ranges::copy(mac, bytes.begin() + wire::kHeaderSize);
  return bytes;
}

Result<Mac> decode_proof(std::span<const std::uint8_t, kProofSize> bytes, NodeId from) {
  auto header = check_handshake_frame(bytes, from);
  if (!header) return std::unexpected(header.error());
  if (header->type != kKeyProofType) {
    return make_error("bad key proof: a Hello came instead", EPROTO);
  }
  Mac mac{};
  std::copy_n(bytes.begin() + wire::kHeaderSize, kMacSize, mac.begin());
  return mac;
}

Mac accept_mac(const ClusterKey& key, NodeId connector, NodeId acceptor,
               const Nonce& connector_nonce, const Nonce& acceptor_nonce) {
  return mac_of(key, "heca accept", connector, acceptor, connector_nonce, acceptor_nonce);
}

Mac connect_mac(const ClusterKey& key, NodeId connector, NodeId acceptor,
                const Nonce& connector_nonce, const Nonce& acceptor_nonce) {
  return mac_of(key, "heca connect", connector, acceptor, acceptor_nonce, connector_nonce);
}

bool mac_matches(const Mac& expected, const Mac& got) {
  init_sodium();
  return ::sodium_memcmp(expected.data(), got.data(), kMacSize) == 0;
}

}  // namespace heca::coherence

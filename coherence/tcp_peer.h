// TcpPeer: one node's end of the TCP connection to one other node (framing, queues, and the
// connecting side of the handshake of coherence/peer_auth.h).
// Internal to TcpTransport; the protocol never sees it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "coherence/tcp_transport.h"
#include "coherence/wire_header.h"
#include "kernel/base/fd.h"
#include "kernel/base/result.h"

namespace heca::coherence {

// Thread-safety: the owning transport's event-loop thread only.
class TcpPeer {
 public:
  enum class State { kIdle, kConnecting, kAwaitHello, kReady, kLost };

  TcpPeer(TcpTransport& owner, PeerAddress address);
  ~TcpPeer();
  TcpPeer(const TcpPeer&) = delete;
  TcpPeer& operator=(const TcpPeer&) = delete;

  [[nodiscard]] NodeId id() const { return address_.id; }
  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] const PeerAddress& address() const { return address_; }
  void set_address(PeerAddress address) { address_ = std::move(address); }
  // "node 2 (10.77.0.3:7400)", for messages.
  [[nodiscard]] std::string name() const;

  // Outgoing side: non-blocking connect; on success sends hello and awaits the reply, checks
  // the acceptor's proof of the cluster key and sends its own.
  [[nodiscard]] Status start_connect();
  // Incoming side: the connection proved the cluster key (TcpTransport did the handshake).
  [[nodiscard]] Status adopt_accepted(Fd socket);
  [[nodiscard]] Status send(const wire::Header& header, std::span<const std::uint8_t> payload);
  [[nodiscard]] std::size_t queued_bytes() const;
  // Closes the connection without reporting anything (transport shut-down).
  void close();
  // Drops every frame from now on (see Transport::disconnect).
  void stop_delivering() { delivering_ = false; }
  // Closes the connection and reports the peer lost with `why`.
  void disconnect(const Error& why) { fail(why); }

 private:
  struct Incoming {  // a frame whose header was read and whose payload is still arriving
    wire::Header header;
    std::span<std::uint8_t> destination;  // empty: the payload is read into rx_
    std::size_t received = 0;
  };

  void on_events(std::uint32_t events);
  void on_connected();
  void on_readable();
  [[nodiscard]] Status read_some(bool& would_block);
  [[nodiscard]] Status read_direct(bool& would_block);
  [[nodiscard]] Status consume_hello();
  [[nodiscard]] Status parse_frames();
  [[nodiscard]] Status start_frame();
  void deliver(const wire::Header& header, std::span<const std::uint8_t> payload);
  [[nodiscard]] Status flush();
  [[nodiscard]] Status update_interest();
  [[nodiscard]] Status register_socket(std::uint32_t events);
  void fail(const Error& why);

  TcpTransport& owner_;
  PeerAddress address_;
  State state_ = State::kIdle;
  Fd socket_;
  bool want_write_ = false;
  bool delivering_ = true;  // false once disconnect() was asked for: frames are dropped
  // Output: whole encoded messages; the front may be partly written (out_offset_ bytes).
  std::deque<std::vector<std::uint8_t>> out_;
  std::size_t out_offset_ = 0;
  // Input: bytes [rx_begin_, rx_end_) of rx_ are received but not consumed yet.
  std::vector<std::uint8_t> rx_;
  std::size_t rx_begin_ = 0;
  std::size_t rx_end_ = 0;
  std::optional<Incoming> incoming_;
  Nonce nonce_{};  // sent in our hello; the acceptor's reply must prove the key over it
};

}  // namespace heca::coherence

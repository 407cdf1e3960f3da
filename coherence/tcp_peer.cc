#include "coherence/tcp_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace heca::coherence {
namespace {

constexpr std::size_t kFrameMax = wire::kHeaderSize + wire::kMaxPayload;
// Room for a whole frame after compaction, plus as much again so one read takes many frames.
constexpr std::size_t kRxCapacity = 2 * kFrameMax;
constexpr int kMaxReadsPerEvent = 16;  // then yield to other fds (level-triggered epoll)
constexpr std::size_t kMaxIov = 64;
constexpr std::uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;

}  // namespace

TcpPeer::TcpPeer(TcpTransport& owner, PeerAddress address)
    : owner_(owner), address_(std::move(address)), rx_(kRxCapacity) {}

TcpPeer::~TcpPeer() {
  close();
}

std::string TcpPeer::name() const {
  return "node " + std::to_string(address_.id) + " (" + address_.host + ":" +
         std::to_string(address_.port) + ")";
}

Status TcpPeer::start_connect() {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(address_.port);
  if (::inet_pton(AF_INET, address_.host.c_str(), &sa.sin_addr) != 1) {
    return make_error("'" + address_.host + "' is not an IPv4 address", EINVAL);
  }
  Fd s{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!s) return errno_error("socket");
  if (auto tuned = tune_node_socket(s.get(), owner_.dead_peer_timeout()); !tuned) return tuned;
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0 &&
      errno != EINPROGRESS) {
    return errno_error("connect");
  }
  socket_ = std::move(s);
  state_ = State::kConnecting;
  return register_socket(EPOLLOUT);
}

// The hello and the proof are the first bytes written on a fresh socket (the proof only after
// the acceptor's reply arrived, so the hello has left): they always fit its send buffer.
static Status write_all_now(int fd, std::span<const std::uint8_t> bytes, const char* what) {
  const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(bytes.size())) return errno_error(std::string("sending ") + what);
  return {};
}

Status TcpPeer::adopt_accepted(Fd socket) {
  socket_ = std::move(socket);
  state_ = State::kReady;
  if (auto s = register_socket(kReadEvents); !s) return s;
  owner_.peer_ready(*this);
  if (auto s = flush(); !s) fail(s.error());
  return {};
}

Status TcpPeer::register_socket(std::uint32_t events) {
  want_write_ = (events & EPOLLOUT) != 0;
  return owner_.loop().add_fd(socket_.get(), events, [this](std::uint32_t ev) { on_events(ev); });
}

void TcpPeer::on_events(std::uint32_t events) {
  if (state_ == State::kConnecting) {
    on_connected();
    return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) on_readable();
  if (state_ == State::kReady && (events & EPOLLOUT) != 0) {
    if (auto s = flush(); !s) fail(s.error());
  }
}

void TcpPeer::on_connected() {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    fail(errno_error("getsockopt(SO_ERROR)").error());
    return;
  }
  if (err != 0) {
    fail(Error{err, "connect"});
    return;
  }
  nonce_ = fresh_nonce();
  const auto hello = encode_hello({.id = owner_.self(), .nonce = nonce_});
  if (auto s = write_all_now(socket_.get(), hello, "hello"); !s) {
    fail(s.error());
    return;
  }
  state_ = State::kAwaitHello;
  if (auto s = owner_.loop().modify_fd(socket_.get(), kReadEvents); !s) fail(s.error());
  want_write_ = false;
}

void TcpPeer::on_readable() {
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    bool would_block = false;
    const bool direct = incoming_ && !incoming_->destination.empty();
    Status s = direct ? read_direct(would_block) : read_some(would_block);
    if (s && !would_block && state_ == State::kAwaitHello) s = consume_hello();
    if (s && !would_block && state_ == State::kReady) s = parse_frames();
    if (!s) {
      fail(s.error());
      return;
    }
    if (would_block || state_ == State::kLost || state_ == State::kIdle) return;
  }
}

Status TcpPeer::read_some(bool& would_block) {
  if (rx_begin_ == rx_end_) {
    rx_begin_ = rx_end_ = 0;
  } else if (rx_.size() - rx_end_ < kFrameMax) {
    std::memmove(rx_.data(), rx_.data() + rx_begin_, rx_end_ - rx_begin_);
    rx_end_ -= rx_begin_;
    rx_begin_ = 0;
  }
  const ssize_t n = ::read(socket_.get(), rx_.data() + rx_end_, rx_.size() - rx_end_);
  if (n == 0) return make_error("connection closed by peer (EOF)");
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      would_block = errno == EAGAIN;
      return {};
    }
    return errno_error("read");
  }
  rx_end_ += static_cast<std::size_t>(n);
  return {};
}

Status TcpPeer::read_direct(bool& would_block) {
  Incoming& in = *incoming_;
  const std::size_t length = in.header.payload_length;
  const ssize_t n =
      ::read(socket_.get(), in.destination.data() + in.received, length - in.received);
  if (n == 0) return make_error("connection closed by peer (EOF) inside a frame");
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      would_block = errno == EAGAIN;
      return {};
    }
    return errno_error("read payload");
  }
  in.received += static_cast<std::size_t>(n);
  if (in.received == length) {
    const Incoming done = *incoming_;
    incoming_.reset();
    deliver(done.header, done.destination.first(length));
  }
  return {};
}

Status TcpPeer::consume_hello() {
  if (rx_end_ - rx_begin_ < kHelloReplySize) return {};
  const std::uint8_t* reply = rx_.data() + rx_begin_;
  auto hello = decode_hello(std::span<const std::uint8_t, kHelloSize>(reply, kHelloSize));
  if (!hello) return std::unexpected(hello.error());
  if (hello->id != address_.id) {
    return make_error("hello reply names node " + std::to_string(hello->id), EPROTO);
  }
  const NodeId self = owner_.self();
  const Mac expected = accept_mac(owner_.key(), self, address_.id, nonce_, hello->nonce);
  auto mac = decode_proof(std::span<const std::uint8_t, kProofSize>(reply + kHelloSize, kProofSize),
                          address_.id);
  if (!mac) return std::unexpected(mac.error());
  if (!mac_matches(expected, *mac)) {
    return make_error("it failed authentication: its reply does not prove the cluster key", EACCES);
  }
  const auto proof =
      encode_proof(self, connect_mac(owner_.key(), self, address_.id, nonce_, hello->nonce));
  if (auto s = write_all_now(socket_.get(), proof, "the key proof"); !s) return s;
  rx_begin_ += kHelloReplySize;
  state_ = State::kReady;
  owner_.peer_ready(*this);
  return flush();
}

Status TcpPeer::parse_frames() {
  while (state_ == State::kReady) {
    if (!incoming_) {
      if (rx_end_ - rx_begin_ < wire::kHeaderSize) return {};
      if (auto s = start_frame(); !s) return s;
    }
    Incoming& in = *incoming_;
    const std::size_t length = in.header.payload_length;
    const std::size_t available = rx_end_ - rx_begin_;
    if (in.destination.empty()) {
      if (available < length) return {};
      const std::span<const std::uint8_t> payload(rx_.data() + rx_begin_, length);
      rx_begin_ += length;
      const wire::Header header = in.header;
      incoming_.reset();
      deliver(header, payload);
      continue;
    }
    const std::size_t take = std::min(available, length - in.received);
    std::memcpy(in.destination.data() + in.received, rx_.data() + rx_begin_, take);
    rx_begin_ += take;
    in.received += take;
    if (in.received < length) return {};  // the rest is read straight into the destination
    const Incoming done = in;
    incoming_.reset();
    deliver(done.header, done.destination.first(length));
  }
  return {};
}

Status TcpPeer::start_frame() {
  auto header =
      wire::decode_header(std::span<const std::uint8_t>(rx_.data() + rx_begin_, wire::kHeaderSize));
  if (!header) return wrap_error(header.error(), "malformed frame header");
  rx_begin_ += wire::kHeaderSize;
  std::span<std::uint8_t> destination;
  if (header->payload_length > 0 && delivering_) {
    destination = owner_.handler().payload_destination(address_.id, *header);
  }
  if (!destination.empty() && destination.size() < header->payload_length) {
    return make_error("malformed frame: payload of " + std::to_string(header->payload_length) +
                          " bytes does not fit its " + std::to_string(destination.size()) +
                          "-byte destination (type " + std::to_string(header->type) + ")",
                      EPROTO);
  }
  if (!destination.empty()) destination = destination.first(header->payload_length);
  incoming_ = Incoming{*header, destination, 0};
  return {};
}

void TcpPeer::deliver(const wire::Header& header, std::span<const std::uint8_t> payload) {
  if (delivering_) owner_.handler().on_message(address_.id, header, payload);
}

Status TcpPeer::send(const wire::Header& header, std::span<const std::uint8_t> payload) {
  if (state_ == State::kLost) return make_error(name() + ": connection lost", ENOTCONN);
  if (payload.size() != header.payload_length || payload.size() > wire::kMaxPayload) {
    return make_error(name() + ": payload size " + std::to_string(payload.size()) +
                          " does not match header payload_length " +
                          std::to_string(header.payload_length),
                      EINVAL);
  }
  std::vector<std::uint8_t> frame(wire::kHeaderSize + payload.size());
  wire::encode_header(header,
                      std::span<std::uint8_t, wire::kHeaderSize>(frame.data(), wire::kHeaderSize));
  if (!payload.empty())
    std::memcpy(frame.data() + wire::kHeaderSize, payload.data(), payload.size());
  out_.push_back(std::move(frame));
  if (state_ != State::kReady) return {};  // flushed once the hello exchange completes
  if (auto s = flush(); !s) {
    fail(s.error());
    return make_error(name() + ": connection lost while sending", ENOTCONN);
  }
  return {};
}

std::size_t TcpPeer::queued_bytes() const {
  std::size_t total = 0;
  for (const auto& frame : out_) total += frame.size();
  return total - out_offset_;
}

Status TcpPeer::flush() {
  while (!out_.empty()) {
    std::array<iovec, kMaxIov> iov{};
    std::size_t count = 0;
    for (auto it = out_.begin(); it != out_.end() && count < kMaxIov; ++it, ++count) {
      const std::size_t skip = count == 0 ? out_offset_ : 0;
      iov[count] = iovec{it->data() + skip, it->size() - skip};
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    const ssize_t n = ::sendmsg(socket_.get(), &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) return errno_error("send");
    auto left = static_cast<std::size_t>(n);
    while (left > 0) {
      const std::size_t front = out_.front().size() - out_offset_;
      if (left < front) {
        out_offset_ += left;
        break;
      }
      left -= front;
      out_.pop_front();
      out_offset_ = 0;
    }
  }
  return update_interest();
}

Status TcpPeer::update_interest() {
  const bool want = !out_.empty();
  if (want == want_write_) return {};
  want_write_ = want;
  return owner_.loop().modify_fd(socket_.get(), kReadEvents | (want ? EPOLLOUT : 0u));
}

void TcpPeer::fail(const Error& why) {
  const bool was_ready = state_ == State::kReady;
  close();
  state_ = was_ready ? State::kLost : State::kIdle;
  if (was_ready) {
    out_.clear();
    out_offset_ = 0;
  }
  owner_.peer_failed(*this, why);
}

void TcpPeer::close() {
  if (socket_) owner_.loop().remove_fd(socket_.get());
  socket_.reset();
  want_write_ = false;
  rx_begin_ = rx_end_ = 0;
  incoming_.reset();
}

}  // namespace heca::coherence

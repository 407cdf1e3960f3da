// tcp_probe: a tiny TCP peer for the namespace-cluster tests.
//   tcp_probe listen ADDR PORT        accepts one connection, prints the line it receives
//   tcp_probe connect ADDR PORT TEXT  connects (retrying until the listener is up), sends TEXT
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "kernel/base/fd.h"

namespace {

constexpr auto kDeadline = std::chrono::seconds(10);

bool make_address(const char* host, const char* port, sockaddr_in& out) {
  out = sockaddr_in{};
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<std::uint16_t>(std::atoi(port)));
  return ::inet_pton(AF_INET, host, &out.sin_addr) == 1;
}

sockaddr* as_sockaddr(sockaddr_in& address) { return reinterpret_cast<sockaddr*>(&address); }

int listen_once(sockaddr_in address) {
  const heca::Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(listener.get(), as_sockaddr(address), sizeof address) != 0 ||
      ::listen(listener.get(), 1) != 0) {
    std::perror("tcp_probe: bind/listen");
    return 1;
  }
  pollfd pfd{listener.get(), POLLIN, 0};
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kDeadline);
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) {
    std::fprintf(stderr, "tcp_probe: no connection within the deadline\n");
    return 1;
  }
  const heca::Fd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  std::string text;
  char c = 0;
  while (::read(peer.get(), &c, 1) == 1 && c != '\n') text.push_back(c);
  std::printf("received: %s\n", text.c_str());
  return text.empty() ? 1 : 0;
}

int connect_and_send(sockaddr_in address, std::string_view text) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    const heca::Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(sock.get(), as_sockaddr(address), sizeof address) == 0) {
      const std::string line = std::string(text) + "\n";
      return ::write(sock.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size()) ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the listener is not up yet
  }
  std::perror("tcp_probe: connect");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  sockaddr_in address{};
  if (argc < 4 || !make_address(argv[2], argv[3], address)) {
    std::fprintf(stderr, "usage: tcp_probe listen|connect ADDR PORT [TEXT]\n");
    return 2;
  }
  const std::string_view verb = argv[1];
  if (verb == "listen") return listen_once(address);
  if (verb == "connect" && argc == 5) return connect_and_send(address, argv[4]);
  return 2;
}

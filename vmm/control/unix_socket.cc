#include "vmm/control/unix_socket.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace heca::vmm::control {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return make_error(fmt::format("control socket '{}': a socket path must have 1 to {} bytes",
                                  path, sizeof(address.sun_path) - 1));
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

Result<Fd> connect_unix(const std::string& path) {
  auto address = unix_address(path);
  if (!address) return std::unexpected(address.error());
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errno_error("socket(AF_UNIX)");
  // A listening UNIX socket accepts or refuses at once: no EINPROGRESS to wait for.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(*address)) != 0) {
    return errno_error(fmt::format("cannot connect to control socket '{}'", path));
  }
  return fd;
}

int poll_ms_until(std::chrono::steady_clock::time_point deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1'000'000));
}

Status write_all(const Fd& fd, std::string_view text,
                 std::chrono::steady_clock::time_point deadline) {
  while (!text.empty()) {
    const ssize_t n = ::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL);
    if (n > 0) {
      text.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return errno_error("writing to the control socket");
    pollfd p{.fd = fd.get(), .events = POLLOUT, .revents = 0};
    const int ready = ::poll(&p, 1, poll_ms_until(deadline));
    if (ready == 0) return make_error("the peer of the control socket does not read", ETIMEDOUT);
    if (ready < 0 && errno != EINTR) return errno_error("poll on the control socket");
  }
  return {};
}

}  // namespace heca::vmm::control

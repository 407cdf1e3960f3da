#include "vmm/control/control_server.h"

#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>

#include "kernel/base/check.h"
#include "vmm/control/unix_socket.h"

namespace heca::vmm::control {
namespace {

// How long one reply may wait for a client that does not read before that client is dropped.
constexpr std::chrono::seconds kReplyTimeout{2};

std::string parent_directory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

Status remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return errno_error(fmt::format("control socket '{}'", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(
        fmt::format("control socket '{}': the path exists and is not a socket", path));
  }
  auto live = connect_unix(path);
  if (live || live.error().code != ECONNREFUSED) {
    return make_error(fmt::format(
        "control socket '{}' is in use (another heca serves it); give another path", path));
  }
  if (::unlink(path.c_str()) != 0) {
    return errno_error(fmt::format("removing the stale control socket '{}'", path));
  }
  return {};
}

namespace {

Status check_path(const std::string& path) {
  if (auto address = unix_address(path); !address) return std::unexpected(address.error());
  const std::string dir = parent_directory(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(fmt::format("control socket '{}': directory '{}' does not exist", path, dir));
  }
  return remove_stale_socket(path);
}

// Mode 0600 before bind() (Linux gives the file the socket inode's mode) and again before
// listen(): no other user can ever connect, and connect() fails until listen() anyway.
Result<Fd> bind_private_socket(const std::string& path) {
  auto address = unix_address(path);
  if (!address) return std::unexpected(address.error());
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errno_error("socket(AF_UNIX)");
  if (::fchmod(fd.get(), S_IRUSR | S_IWUSR) != 0)
    return errno_error("fchmod on the control socket");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(*address)) != 0) {
    return errno_error(fmt::format("binding control socket '{}'", path));
  }
  if (::chmod(path.c_str(), S_IRUSR | S_IWUSR) != 0 || ::listen(fd.get(), 16) != 0) {
    auto error = errno_error(fmt::format("listening on control socket '{}'", path));
    ::unlink(path.c_str());
    return error;
  }
  return fd;
}

// Best effort: a short line to a client that is about to be closed.
void refuse(const Fd& fd, ErrorClass error_class, std::string_view desc) {
  (void)write_all(fd, reply_line(error_reply(error_class, desc)),
                  std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
}

std::optional<uid_t> peer_uid(const Fd& fd) {
  ucred cred{};
  socklen_t length = sizeof(cred);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return std::nullopt;
  return cred.uid;
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

bool peer_allowed(uid_t peer, uid_t server) {
  return peer == server || peer == 0;
}

Result<std::unique_ptr<ControlServer>> bind_if_given(const std::string& path) {
  if (path.empty()) return nullptr;
  return ControlServer::bind(path);
}

Result<std::unique_ptr<ControlServer>> ControlServer::bind(const std::string& path) {
  if (auto s = check_path(path); !s) return std::unexpected(s.error());
  auto listener = bind_private_socket(path);
  if (!listener) return std::unexpected(listener.error());
  auto wake = make_pipe();
  if (!wake) {
    ::unlink(path.c_str());
    return std::unexpected(wake.error());
  }
  return std::unique_ptr<ControlServer>(
      new ControlServer(path, std::move(*listener), std::move(*wake)));
}

ControlServer::ControlServer(std::string path, Fd listener, Pipe wake)
    : path_(std::move(path)), listener_(std::move(listener)), wake_(std::move(wake)) {}

ControlServer::~ControlServer() {
  stop();
  listener_.reset();
  ::unlink(path_.c_str());
}

void ControlServer::serve(ControlTarget& target) {
  HECA_CHECK(!thread_.joinable());
  target_ = &target;
  thread_ = std::thread([this] { run(); });
}

void ControlServer::stop() {
  if (!thread_.joinable()) return;
  const char byte = 0;
  [[maybe_unused]] const ssize_t n = ::write(wake_.write.get(), &byte, 1);
  thread_.join();
  clients_.clear();
}

void ControlServer::run() {
  (void)::pthread_setname_np(::pthread_self(), "control");
  while (true) {
    std::vector<pollfd> fds{{wake_.read.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
    for (const auto& c : clients_) fds.push_back({c.fd.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
    if (fds[0].revents != 0) return;
    // Clients first: accepting appends to clients_, which fds[2..] index.
    std::vector<Client> open;
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      if (fds[2 + i].revents == 0 || serve_client(clients_[i]))
        open.push_back(std::move(clients_[i]));
    }
    clients_ = std::move(open);
    if (fds[1].revents != 0) accept_client();
  }
}

void ControlServer::accept_client() {
  Fd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd) return;
  const auto uid = peer_uid(fd);
  if (!uid || !peer_allowed(*uid, ::geteuid())) {
    refuse(fd, ErrorClass::kAccessDenied,
           fmt::format("uid {} may not use this control socket (only uid {} and root may)",
                       uid ? static_cast<long>(*uid) : -1L, static_cast<long>(::geteuid())));
    return;
  }
  if (clients_.size() >= kMaxClients) {
    refuse(fd, ErrorClass::kTooManyClients,
           fmt::format("this control socket serves at most {} connections", kMaxClients));
    return;
  }
  clients_.push_back({.fd = std::move(fd), .pending = {}});
}

bool ControlServer::serve_client(Client& client) {
  std::array<char, 4096> buffer{};
  while (true) {
    const ssize_t n = ::read(client.fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) {
      // The peer is done sending: what it sent without a final '\n' is its last request.
      if (n == 0 && !blank(client.pending)) client.pending += '\n';
      (void)answer_lines(client);
      return false;
    }
    client.pending.append(buffer.data(), static_cast<std::size_t>(n));
    if (!answer_lines(client)) return false;
  }
}

bool ControlServer::answer_lines(Client& client) {
  std::size_t newline = 0;
  while ((newline = client.pending.find('\n')) != std::string::npos && newline <= kMaxLineBytes) {
    const std::string line = client.pending.substr(0, newline);
    client.pending.erase(0, newline + 1);
    if (blank(line)) continue;
    const auto deadline = std::chrono::steady_clock::now() + kReplyTimeout;
    if (!write_all(client.fd, reply_line(dispatch_line(line, *target_)), deadline)) return false;
  }
  if (newline != std::string::npos || client.pending.size() > kMaxLineBytes) {
    refuse(client.fd, ErrorClass::kLineTooLong,
           fmt::format("a request line may have at most {} bytes; closing", kMaxLineBytes));
    return false;
  }
  return true;
}

}  // namespace heca::vmm::control

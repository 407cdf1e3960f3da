#include "vmm/control/control_client.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "vmm/control/control_protocol.h"
#include "vmm/control/unix_socket.h"

namespace heca::vmm::control {

using nlohmann::json;

Result<ControlClient> ControlClient::connect(const std::string& path,
                                             std::chrono::milliseconds timeout) {
  auto fd = connect_unix(path);
  if (!fd) return std::unexpected(fd.error());
  return ControlClient(path, std::move(*fd), timeout);
}

ControlClient::ControlClient(std::string path, Fd fd, std::chrono::milliseconds timeout)
    : path_(std::move(path)), fd_(std::move(fd)), timeout_(timeout) {}

Result<json> ControlClient::execute(std::string_view command) {
  return request(json{{"execute", command}});
}

Result<json> ControlClient::request(const json& request) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  if (auto s = write_all(fd_, reply_line(request), deadline); !s) {
    return wrap_error(s.error(), fmt::format("control socket '{}'", path_));
  }
  auto line = read_line(deadline);
  if (!line) return std::unexpected(line.error());
  json reply = json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object()) {
    return make_error(fmt::format("control socket '{}' sent a reply that is not a JSON object: {}",
                                  path_, line->substr(0, 200)));
  }
  return reply;
}

Result<std::string> ControlClient::read_line(std::chrono::steady_clock::time_point deadline) {
  std::array<char, 4096> buffer{};
  std::size_t newline = 0;
  while ((newline = pending_.find('\n')) == std::string::npos) {
    if (pending_.size() > kMaxLineBytes * 64) {
      return make_error(fmt::format("control socket '{}' sent an endless reply line", path_));
    }
    pollfd p{.fd = fd_.get(), .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, poll_ms_until(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      return make_error(
          fmt::format("control socket '{}' did not reply within {} ms", path_, timeout_.count()));
    }
    const ssize_t n = ::read(fd_.get(), buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return errno_error(fmt::format("reading control socket '{}'", path_));
    if (n == 0) {
      return make_error(fmt::format("control socket '{}' closed the connection", path_));
    }
    pending_.append(buffer.data(), static_cast<std::size_t>(n));
  }
  std::string line = pending_.substr(0, newline);
  pending_.erase(0, newline + 1);
  return line;
}

namespace {

// A string field of `object`, or `fallback` when it is missing or not a string.
std::string string_field(const json& object, const char* key, std::string fallback) {
  const auto field = object.find(key);
  if (field == object.end() || !field->is_string()) return fallback;
  return field->get<std::string>();
}

}  // namespace

std::string error_text(const json& reply) {
  const auto error = reply.find("error");
  if (error == reply.end()) return {};
  if (!error->is_object()) return "Error: " + error->dump();
  return fmt::format("{}: {}", string_field(*error, "class", "Error"),
                     string_field(*error, "desc", "(no description)"));
}

Result<json> query(const std::string& path, std::string_view command,
                   std::chrono::milliseconds timeout) {
  auto client = ControlClient::connect(path, timeout);
  if (!client) return std::unexpected(client.error());
  auto reply = client->execute(command);
  if (!reply) return std::unexpected(reply.error());
  if (const std::string error = error_text(*reply); !error.empty()) return make_error(error);
  const auto value = reply->find("return");
  if (value == reply->end()) {
    return make_error(
        fmt::format("control socket '{}' sent neither \"return\" nor \"error\"", path));
  }
  return *value;
}

}  // namespace heca::vmm::control

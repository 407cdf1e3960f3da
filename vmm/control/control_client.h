// ControlClient: one connection to a control socket: a request line out, its reply line in.
// `heca ctl` uses it, and so does the supervisor of `heca run GUEST.toml` to reach its nodes.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "kernel/base/fd.h"
#include "kernel/base/result.h"

namespace heca::vmm::control {

// THREADS: one thread at a time per client.
class ControlClient {
 public:
  // Connects to `path`; each request then waits at most `timeout` for its reply. The error
  // names the path and keeps connect()'s errno (ENOENT, ECONNREFUSED, EACCES).
  [[nodiscard]] static Result<ControlClient> connect(const std::string& path,
                                                     std::chrono::milliseconds timeout);

  // The reply object ({"return": ...} or {"error": {...}}) to `request`. Errors: the
  // connection failed or closed, or no JSON object came back in time.
  [[nodiscard]] Result<nlohmann::json> request(const nlohmann::json& request);
  // request({"execute": command}).
  [[nodiscard]] Result<nlohmann::json> execute(std::string_view command);
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  ControlClient(std::string path, Fd fd, std::chrono::milliseconds timeout);
  [[nodiscard]] Result<std::string> read_line(std::chrono::steady_clock::time_point deadline);

  std::string path_;
  Fd fd_;
  std::chrono::milliseconds timeout_;
  std::string pending_;  // bytes after the last reply line
};

// Connects, runs `command` and unwraps the reply: its "return" value, or an error whose text is
// "CLASS: desc" for an error reply.
[[nodiscard]] Result<nlohmann::json> query(const std::string& path, std::string_view command,
                                           std::chrono::milliseconds timeout);

// "CLASS: desc" of an error reply, or empty when `reply` is no error reply.
[[nodiscard]] std::string error_text(const nlohmann::json& reply);

}  // namespace heca::vmm::control

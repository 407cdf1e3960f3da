// The control plane's protocol (QMP-like JSON lines): one request object per line in, one
// reply object per line out. dispatch_line() is pure: no socket, no VM, only a ControlTarget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "kernel/base/result.h"

namespace heca::vmm::control {

// A request line longer than this is refused and its connection closed.
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;

// What one control socket drives: a node of a guest, a single-node machine, or the supervisor
// of a local cluster (which fans out to its nodes' sockets).
// THREADS: every method runs on the control server's thread, never on a vCPU, coherence or
// link thread; implementations read VM state through atomics or their own locks.
class ControlTarget {
 public:
  virtual ~ControlTarget() = default;
  [[nodiscard]] virtual Result<nlohmann::json> status() = 0;
  [[nodiscard]] virtual Result<nlohmann::json> stats() = 0;
  [[nodiscard]] virtual Status pause() = 0;
  [[nodiscard]] virtual Status resume() = 0;
  [[nodiscard]] virtual Status stop() = 0;
};

// The "class" of an error reply (vmm/control/README.md lists when each is sent).
enum class ErrorClass : std::uint8_t {
  kParseError,       // the line is not JSON
  kInvalidRequest,   // JSON, but not a request object (not an object, a missing or bad field)
  kCommandNotFound,  // "execute" names no command
  kCommandFailed,    // the target could not do it (its reason is the desc)
  kLineTooLong,      // over kMaxLineBytes without a newline; the connection is closed
  kAccessDenied,     // the peer's UID is neither the server's nor 0; the connection is closed
  kTooManyClients,   // the server holds its maximum of connections; this one is closed
};
[[nodiscard]] std::string_view error_class_name(ErrorClass error_class);

// {"error": {"class": ..., "desc": ...}} and {"return": value}.
[[nodiscard]] nlohmann::json error_reply(ErrorClass error_class, std::string_view desc);
[[nodiscard]] nlohmann::json return_reply(nlohmann::json value);

// The commands a target answers, in the order `commands` lists them.
[[nodiscard]] std::span<const std::string_view> command_names();

// The reply to one request line (without its '\n'). Never throws; a request's "id" is echoed.
[[nodiscard]] nlohmann::json dispatch_line(std::string_view line, ControlTarget& target);

// A reply as one line of JSON, '\n' included (invalid UTF-8 in strings is replaced, not thrown).
[[nodiscard]] std::string reply_line(const nlohmann::json& reply);

}  // namespace heca::vmm::control

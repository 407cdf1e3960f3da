// The UNIX-socket plumbing the control server and client share: addresses checked for length,
// connecting, and writing a whole reply or request within a deadline.
#pragma once

#include <sys/un.h>

#include <chrono>
#include <string>
#include <string_view>

#include "kernel/base/fd.h"
#include "kernel/base/result.h"

namespace heca::vmm::control {

// The address of `path`; an error naming it when it does not fit sun_path.
[[nodiscard]] Result<sockaddr_un> unix_address(const std::string& path);

// A connected, close-on-exec, non-blocking stream socket to `path`. The error keeps the errno
// of connect() (ENOENT: nothing there, ECONNREFUSED: nobody listens, EACCES: mode).
[[nodiscard]] Result<Fd> connect_unix(const std::string& path);

// Writes all of `text` to the non-blocking `fd`, waiting for room at most until `deadline`.
[[nodiscard]] Status write_all(const Fd& fd, std::string_view text,
                               std::chrono::steady_clock::time_point deadline);

// Milliseconds left until `deadline` for poll(): 0 when it has passed.
[[nodiscard]] int poll_ms_until(std::chrono::steady_clock::time_point deadline);

}  // namespace heca::vmm::control

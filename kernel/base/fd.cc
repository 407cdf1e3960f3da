#include "kernel/base/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>

namespace heca {

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Pipe> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return errno_error("pipe2");
  return Pipe{Fd{fds[0]}, Fd{fds[1]}};
}

}  // namespace heca

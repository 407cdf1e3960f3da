#include "kernel/base/fd.h"

#include <unistd.h>

namespace heca {

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace heca

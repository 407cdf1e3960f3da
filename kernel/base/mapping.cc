#include "kernel/base/mapping.h"

#include <sys/mman.h>

#include <string>

namespace heca {

Result<Mapping> Mapping::map(std::size_t size, int prot, int flags, int fd, std::size_t offset,
                             const char* what) {
  void* addr = ::mmap(nullptr, size, prot, flags, fd, static_cast<off_t>(offset));
  if (addr == MAP_FAILED) return errno_error(std::string("mmap ") + what);
  return Mapping(addr, size);
}

Result<Mapping> Mapping::anonymous(std::size_t size, const char* what) {
  return map(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, what);
}

void Mapping::reset() {
  if (addr_ != nullptr) ::munmap(addr_, size_);
  addr_ = nullptr;
  size_ = 0;
}

}  // namespace heca

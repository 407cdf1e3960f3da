#include "kernel/memfd_region.h"

#include <sys/mman.h>
#include <unistd.h>

#include <string>

namespace heca::kernel {

Result<MemfdRegion> MemfdRegion::create(std::size_t size, const char* name) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  if (size == 0 || size % page != 0) {
    return make_error("region size " + std::to_string(size) + " is not a non-zero multiple of " +
                      std::to_string(page), EINVAL);
  }
  Fd memfd{::memfd_create(name, MFD_CLOEXEC)};
  if (!memfd) return errno_error(std::string("memfd_create ") + name);
  if (::ftruncate(memfd.get(), static_cast<off_t>(size)) != 0) {
    return errno_error("ftruncate memfd to " + std::to_string(size));
  }
  const int prot = PROT_READ | PROT_WRITE;
  auto guest = Mapping::map(size, prot, MAP_SHARED | MAP_NORESERVE, memfd.get(), 0, "guest view");
  if (!guest) return std::unexpected(guest.error());
  auto engine = Mapping::map(size, prot, MAP_SHARED | MAP_NORESERVE, memfd.get(), 0, "engine view");
  if (!engine) return std::unexpected(engine.error());
  return MemfdRegion(std::move(memfd), std::move(*guest), std::move(*engine), size);
}

}  // namespace heca::kernel

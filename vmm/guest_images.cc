#include "vmm/guest_images.h"

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <iterator>

#ifdef HECA_HAVE_TEST_GUEST
#include "firmware/testguest/image.h"
#endif

namespace heca::vmm {

Result<std::vector<std::uint8_t>> read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_error(fmt::format("cannot open {} file '{}'", what, path));
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad()) return errno_error(fmt::format("cannot read {} file '{}'", what, path));
  return bytes;
}

Result<GuestImage> builtin_test_guest() {
#ifdef HECA_HAVE_TEST_GUEST
  return firmware::FlatImage{.image = firmware::test_guest_image()};
#else
  return make_error("this heca was built without the embedded test guest");
#endif
}

Result<GuestImage> load_flat_image(const std::string& path, ImageFiles& files) {
  auto bytes = read_file(path, "guest image");
  if (!bytes) return std::unexpected(bytes.error());
  if (bytes->empty()) return make_error(fmt::format("guest image '{}' is empty", path));
  files.primary = std::move(*bytes);
  return firmware::FlatImage{.image = files.primary};
}

Result<GuestImage> load_linux_image(const std::string& kernel, const std::string& initrd,
                                    ImageFiles& files) {
  auto bzimage = read_file(kernel, "kernel");
  if (!bzimage) return std::unexpected(bzimage.error());
  files.primary = std::move(*bzimage);
  if (!initrd.empty()) {
    auto ramdisk = read_file(initrd, "initrd");
    if (!ramdisk) return std::unexpected(ramdisk.error());
    files.initrd = std::move(*ramdisk);
  }
  return firmware::LinuxImage{.bzimage = files.primary, .initrd = files.initrd};
}

}  // namespace heca::vmm

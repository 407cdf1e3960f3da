// Guest images as the commands load them: the built-in test guest, a flat image file, or a Linux
// bzImage with its initrd, read once, with errors naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/base/result.h"
#include "vmm/loader.h"

namespace heca::vmm {

// The bytes a GuestImage spans. INVARIANT: outlives every GuestImage loaded into it.
struct ImageFiles {
  std::vector<std::uint8_t> primary;  // a flat image or a bzImage
  std::vector<std::uint8_t> initrd;
};

// The whole file; errors say "cannot open <what> file '<path>'".
[[nodiscard]] Result<std::vector<std::uint8_t>> read_file(const std::string& path,
                                                          std::string_view what);
// The SMP test guest built into this heca (firmware/testguest), or an error if it was built
// without it.
[[nodiscard]] Result<GuestImage> builtin_test_guest();
// A flat 64-bit image file, loaded at 1 MiB (firmware/README.md); empty files are refused.
[[nodiscard]] Result<GuestImage> load_flat_image(const std::string& path, ImageFiles& files);
// A bzImage and, unless `initrd` is empty, its initial ramdisk.
[[nodiscard]] Result<GuestImage> load_linux_image(const std::string& kernel,
                                                  const std::string& initrd, ImageFiles& files);

}  // namespace heca::vmm

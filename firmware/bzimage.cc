#include "firmware/bzimage.h"

#include <fmt/format.h>

#include "firmware/boot_protocol.h"
#include "firmware/le_bytes.h"

namespace heca::firmware {
namespace {

using namespace linux_boot;

// Enough to read every header field heca uses (init_size is the last).
constexpr std::size_t kMinFileSize = kInitSize + sizeof(std::uint32_t);

Status check_magic(std::span<const std::uint8_t> file) {
  if (file.size() < kMinFileSize) {
    return make_error(fmt::format("bzImage: file is {} bytes, too small for a setup header", file.size()));
  }
  if (get_le<std::uint16_t>(file, kBootFlag) != kBootFlagValue) {
    return make_error("bzImage: boot sector signature 0xAA55 missing");
  }
  if (get_le<std::uint32_t>(file, kHeaderMagic) != kHeaderMagicValue) {
    return make_error("bzImage: setup header magic \"HdrS\" missing");
  }
  const auto version = get_le<std::uint16_t>(file, kVersion);
  if (version < kMinProtocol) {
    return make_error(fmt::format("bzImage: boot protocol {}.{:02} is older than 2.12", version >> 8, version & 0xff));
  }
  if ((get_le<std::uint16_t>(file, kXLoadFlags) & kXlfKernel64) == 0) {
    return make_error("bzImage: XLF_KERNEL_64 not set, kernel has no 64-bit entry point");
  }
  return {};
}

}  // namespace

Result<BzImage> parse_bzimage(std::span<const std::uint8_t> file) {
  if (auto status = check_magic(file); !status) return std::unexpected(status.error());
  BzImage image;
  image.protocol_version = get_le<std::uint16_t>(file, kVersion);
  image.setup_sects = get_le<std::uint8_t>(file, kSetupSects);
  if (image.setup_sects == 0) image.setup_sects = kDefaultSetupSects;
  const std::size_t setup_size = (std::size_t{image.setup_sects} + 1) * kSectorSize;
  if (setup_size >= file.size()) {
    return make_error(fmt::format("bzImage: setup_sects {} puts the kernel at byte {}, past the end of the {}-byte file",
                                  image.setup_sects, setup_size, file.size()));
  }
  image.setup = file.first(setup_size);
  image.kernel = file.subspan(setup_size);
  image.init_size = get_le<std::uint32_t>(file, kInitSize);
  image.initrd_addr_max = get_le<std::uint32_t>(file, kInitrdAddrMax);
  image.cmdline_size = get_le<std::uint32_t>(file, kCmdlineSize);
  image.xloadflags = get_le<std::uint16_t>(file, kXLoadFlags);
  image.pref_address = get_le<std::uint64_t>(file, kPrefAddress);
  return image;
}

}  // namespace heca::firmware

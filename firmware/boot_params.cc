#include "firmware/boot_params.h"

#include <algorithm>

#include <fmt/format.h>

#include "firmware/boot_protocol.h"
#include "firmware/le_bytes.h"

namespace heca::firmware {
namespace {

using namespace linux_boot;
using ZeroPage = std::array<std::uint8_t, kBootParamsSize>;

std::uint32_t low32(std::uint64_t value) { return static_cast<std::uint32_t>(value); }
std::uint32_t high32(std::uint64_t value) { return static_cast<std::uint32_t>(value >> 32); }

// The header runs from 0x1f1 to 0x202 + the byte at 0x201 (the jump's displacement).
void copy_setup_header(ZeroPage& page, std::span<const std::uint8_t> setup) {
  const std::size_t declared_end = 0x202 + std::size_t{get_le<std::uint8_t>(setup, kJump + 1)};
  const std::size_t end = std::min({declared_end, kSetupHeaderMaxEnd, setup.size()});
  std::copy(setup.begin() + kSetupHeader, setup.begin() + static_cast<std::ptrdiff_t>(end),
            page.begin() + kSetupHeader);
}

void fill_loader_fields(ZeroPage& page, const BootParamsConfig& config) {
  put_le<std::uint8_t>(page, kTypeOfLoader, kTypeOfLoaderUndefined);
  const auto flags = static_cast<std::uint8_t>(get_le<std::uint8_t>(page, kLoadFlags) | kLoadedHigh | kCanUseHeap);
  put_le<std::uint8_t>(page, kLoadFlags, flags);
  put_le<std::uint16_t>(page, kHeapEndPtr, kHeapEnd);
  put_le<std::uint32_t>(page, kCmdLinePtr, low32(config.cmdline_gpa));
  put_le<std::uint32_t>(page, kExtCmdLinePtr, high32(config.cmdline_gpa));
  put_le<std::uint32_t>(page, kRamdiskImage, low32(config.initrd_gpa));
  put_le<std::uint32_t>(page, kExtRamdiskImage, high32(config.initrd_gpa));
  put_le<std::uint32_t>(page, kRamdiskSize, low32(config.initrd_size));
  put_le<std::uint32_t>(page, kExtRamdiskSize, high32(config.initrd_size));
  put_le<std::uint64_t>(page, kAcpiRsdpAddr, config.acpi_rsdp_gpa);
}

void fill_e820(ZeroPage& page, const std::vector<E820Entry>& e820) {
  put_le<std::uint8_t>(page, kE820Entries, static_cast<std::uint8_t>(e820.size()));
  for (std::size_t i = 0; i < e820.size(); ++i) {
    const std::size_t offset = kE820Table + i * kE820EntrySize;
    put_le<std::uint64_t>(page, offset, e820[i].addr);
    put_le<std::uint64_t>(page, offset + 8, e820[i].size);
    put_le<std::uint32_t>(page, offset + 16, static_cast<std::uint32_t>(e820[i].type));
  }
}

}  // namespace

Result<ZeroPage> build_boot_params(const BootParamsConfig& config) {
  if (config.e820.size() > kE820MaxEntries) {
    return make_error(fmt::format("boot_params: {} e820 entries, at most {} fit", config.e820.size(), kE820MaxEntries));
  }
  ZeroPage page{};
  if (config.kernel != nullptr) copy_setup_header(page, config.kernel->setup);
  fill_loader_fields(page, config);
  fill_e820(page, config.e820);
  return page;
}

}  // namespace heca::firmware

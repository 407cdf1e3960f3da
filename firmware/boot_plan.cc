#include "firmware/boot_plan.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <ranges>

#include <fmt/format.h>

#include "firmware/ap_wakeup.h"
#include "firmware/boot_params.h"
#include "firmware/boot_protocol.h"
#include "firmware/bzimage.h"
#include "firmware/e820.h"
#include "firmware/le_bytes.h"
#include "firmware/long_mode.h"

namespace heca::firmware {
namespace {

std::uint64_t align_up(std::uint64_t value, std::uint64_t align) { return (value + align - 1) / align * align; }
std::uint64_t align_down(std::uint64_t value, std::uint64_t align) { return value / align * align; }

bool fits_in_ram(std::span<const RamRange> ram, std::uint64_t gpa, std::uint64_t size) {
  return std::ranges::any_of(ram, [&](const RamRange& r) { return gpa >= r.gpa && gpa <= r.end() && size <= r.end() - gpa; });
}

std::vector<std::uint8_t> to_bytes(std::span<const std::uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

// The image-specific part of a plan: its writes, its entry point and what boot_params says about it.
struct ImagePart {
  std::vector<GuestWrite> writes;
  std::uint64_t entry_rip = 0;
  std::uint64_t initrd_gpa = 0;
  std::uint64_t initrd_size = 0;
  std::optional<BzImage> kernel;
};

Result<ImagePart> plan_flat(const FlatImage& flat, std::span<const RamRange> ram) {
  if (flat.image.empty()) return make_error("boot: flat image is empty");
  if (flat.load_gpa < kBiosAreaEnd) {
    return make_error(fmt::format("boot: flat image at {:#x} overlaps the boot structures below 1 MiB", flat.load_gpa));
  }
  if (!fits_in_ram(ram, flat.load_gpa, flat.image.size())) {
    return make_error(fmt::format("boot: flat image of {} bytes at {:#x} does not fit in RAM", flat.image.size(), flat.load_gpa));
  }
  ImagePart part;
  part.writes.push_back({flat.load_gpa, to_bytes(flat.image)});
  part.entry_rip = flat.load_gpa;
  return part;
}

// Highest page-aligned address at which `size` bytes fit in RAM, at or above `floor` and
// ending at or below `limit` (exclusive).
std::optional<std::uint64_t> place_high(std::span<const RamRange> ram, std::uint64_t size, std::uint64_t floor,
                                        std::uint64_t limit) {
  for (const RamRange& range : ram | std::views::reverse) {
    const std::uint64_t top = std::min(range.end(), limit);
    const std::uint64_t bottom = std::max(range.gpa, floor);
    if (top < size) continue;
    const std::uint64_t gpa = align_down(top - size, kPageSize);
    if (gpa >= bottom) return gpa;
  }
  return std::nullopt;
}

Status place_initrd(ImagePart& part, std::span<const std::uint8_t> initrd, std::span<const RamRange> ram,
                    std::uint64_t kernel_end) {
  if (initrd.empty()) return {};
  const std::uint32_t addr_max = part.kernel->initrd_addr_max != 0 ? part.kernel->initrd_addr_max
                                                                   : linux_boot::kDefaultInitrdAddrMax;
  const auto gpa = place_high(ram, initrd.size(), align_up(kernel_end, kPageSize), std::uint64_t{addr_max} + 1);
  if (!gpa) {
    return make_error(fmt::format("boot: initrd of {} bytes does not fit in RAM between the kernel and {:#x}",
                                  initrd.size(), addr_max));
  }
  part.initrd_gpa = *gpa;
  part.initrd_size = initrd.size();
  part.writes.push_back({*gpa, to_bytes(initrd)});
  return {};
}

Result<ImagePart> plan_linux(const LinuxImage& linux_image, const std::string& cmdline, std::span<const RamRange> ram) {
  auto kernel = parse_bzimage(linux_image.bzimage);
  if (!kernel) return wrap_error(kernel.error(), "boot");
  if (cmdline.size() > kernel->cmdline_size) {
    return make_error(fmt::format("boot: cmdline is {} bytes, the kernel accepts {}", cmdline.size(), kernel->cmdline_size));
  }
  // The kernel needs init_size bytes from where it decompresses: its load address, or
  // pref_address when that is higher (a relocatable kernel never runs below it).
  const std::uint64_t run_base = std::max(kKernelLoadAddr, kernel->pref_address);
  const std::uint64_t kernel_end = std::max(kKernelLoadAddr + kernel->kernel.size(), run_base + kernel->init_size);
  if (!fits_in_ram(ram, kKernelLoadAddr, kernel_end - kKernelLoadAddr)) {
    return make_error(fmt::format("boot: kernel needs RAM from {:#x} to {:#x}, which does not fit in RAM",
                                  kKernelLoadAddr, kernel_end));
  }
  ImagePart part;
  part.kernel = *kernel;
  part.writes.push_back({kKernelLoadAddr, to_bytes(kernel->kernel)});
  part.entry_rip = kKernelLoadAddr + linux_boot::kEntry64Offset;
  if (auto status = place_initrd(part, linux_image.initrd, ram, kernel_end); !status) {
    return std::unexpected(status.error());
  }
  return part;
}

Result<ImagePart> plan_image(const BootRequest& request) {
  if (const auto* flat = std::get_if<FlatImage>(&request.image)) return plan_flat(*flat, request.ram);
  return plan_linux(std::get<LinuxImage>(request.image), request.cmdline, request.ram);
}

std::vector<std::uint8_t> gdt_bytes() {
  const auto gdt = build_boot_gdt();
  std::vector<std::uint8_t> bytes;
  for (const std::uint64_t entry : gdt) append_le<std::uint64_t>(bytes, entry);
  return bytes;
}

std::vector<std::uint8_t> cmdline_bytes(const std::string& cmdline) {
  std::vector<std::uint8_t> bytes(cmdline.begin(), cmdline.end());
  bytes.push_back(0);
  return bytes;
}

bool uses_wakeup_mailbox(const BootRequest& request) {
  switch (request.ap_startup) {
    case ApStartup::kByImage: return std::holds_alternative<LinuxImage>(request.image);
    case ApStartup::kInitSipi: return false;
    case ApStartup::kWakeupMailbox: return true;
  }
  return false;
}

}  // namespace

Result<BootPlan> plan_boot(const BootRequest& request) {
  if (request.cmdline.size() + 1 > kCmdlineMax) {
    return make_error(fmt::format("boot: cmdline is {} bytes, at most {} fit", request.cmdline.size(), kCmdlineMax - 1));
  }
  if (!fits_in_ram(request.ram, 0, kBiosAreaEnd)) return make_error("boot: RAM does not cover the first 1 MiB");
  const bool mailbox = uses_wakeup_mailbox(request);
  AcpiConfig acpi_config = request.acpi;
  acpi_config.mp_wakeup_mailbox_gpa = mailbox ? ApWakeupLayout::kMailbox : 0;
  auto acpi = build_acpi_tables(acpi_config);
  if (!acpi) return wrap_error(acpi.error(), "boot");
  auto image = plan_image(request);
  if (!image) return std::unexpected(image.error());

  const BootParamsConfig params_config{
      .kernel = image->kernel ? &*image->kernel : nullptr,
      .cmdline_gpa = kCmdlineAddr,
      .cmdline_size = static_cast<std::uint32_t>(request.cmdline.size()),
      .initrd_gpa = image->initrd_gpa,
      .initrd_size = image->initrd_size,
      .e820 = build_e820(request.ram),
      .acpi_rsdp_gpa = acpi->rsdp_gpa,
  };
  auto params = build_boot_params(params_config);
  if (!params) return wrap_error(params.error(), "boot");

  BootPlan plan;
  plan.entry_rip = image->entry_rip;
  plan.writes.push_back({kGdtAddr, gdt_bytes()});
  plan.writes.push_back({kPml4Addr, build_identity_page_tables()});
  plan.writes.push_back({kBootParamsAddr, to_bytes(*params)});
  plan.writes.push_back({kCmdlineAddr, cmdline_bytes(request.cmdline)});
  plan.writes.push_back({acpi->base_gpa, std::move(acpi->bytes)});
  if (mailbox) {
    plan.ap_entry_rip = ApWakeupLayout::kParkCode;
    plan.writes.push_back({kApWakeupBase, build_ap_wakeup_region()});
  }
  std::ranges::move(image->writes, std::back_inserter(plan.writes));
  return plan;
}

}  // namespace heca::firmware

// Test helpers for the firmware builders: synthetic bzImages and lookup of ACPI tables
// inside a built AcpiTables blob, by following RSDP -> XSDT (and FADT -> DSDT).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firmware/acpi.h"
#include "firmware/boot_protocol.h"
#include "firmware/le_bytes.h"

namespace heca::firmware::testing {

// Header fields of a synthetic bzImage; defaults describe a valid 64-bit kernel.
struct BzImageSpec {
  std::uint8_t setup_sects = 4;
  std::uint16_t boot_flag = linux_boot::kBootFlagValue;
  std::uint32_t magic = linux_boot::kHeaderMagicValue;
  std::uint16_t version = 0x020f;
  std::uint16_t xloadflags = linux_boot::kXlfKernel64 | linux_boot::kXlfCanBeLoadedAbove4g;
  std::uint32_t init_size = 0x40000;
  std::uint32_t initrd_addr_max = 0x7fffffff;
  std::uint32_t cmdline_size = 2047;
  std::uint64_t pref_address = 0;
  std::size_t kernel_size = 0x3000;
  std::uint8_t kernel_fill = 0xcc;
};

inline std::vector<std::uint8_t> make_bzimage(const BzImageSpec& spec = {}) {
  using namespace linux_boot;
  const std::size_t setup_size = (std::size_t{spec.setup_sects == 0 ? kDefaultSetupSects : spec.setup_sects} + 1) * 512;
  std::vector<std::uint8_t> file(setup_size, 0);
  file.resize(setup_size + spec.kernel_size, spec.kernel_fill);
  put_le<std::uint8_t>(file, kSetupSects, spec.setup_sects);
  put_le<std::uint16_t>(file, kBootFlag, spec.boot_flag);
  put_le<std::uint8_t>(file, kJump, 0xeb);
  put_le<std::uint8_t>(file, kJump + 1, 0x6a);  // header ends at 0x26c
  put_le<std::uint32_t>(file, kHeaderMagic, spec.magic);
  put_le<std::uint16_t>(file, kVersion, spec.version);
  put_le<std::uint8_t>(file, kLoadFlags, kLoadedHigh);
  put_le<std::uint32_t>(file, kCode32Start, 0x100000);
  put_le<std::uint32_t>(file, kInitrdAddrMax, spec.initrd_addr_max);
  put_le<std::uint32_t>(file, kKernelAlignment, 0x200000);
  put_le<std::uint16_t>(file, kXLoadFlags, spec.xloadflags);
  put_le<std::uint32_t>(file, kCmdlineSize, spec.cmdline_size);
  put_le<std::uint64_t>(file, kPrefAddress, spec.pref_address);
  put_le<std::uint32_t>(file, kInitSize, spec.init_size);
  return file;
}

inline unsigned byte_sum(std::span<const std::uint8_t> bytes) {
  return std::accumulate(bytes.begin(), bytes.end(), 0u) & 0xffu;
}

inline std::string signature_of(std::span<const std::uint8_t> table) {
  return {table.begin(), table.begin() + 4};
}

// The table at `gpa`, sized by its header's length field.
inline std::span<const std::uint8_t> table_at(const AcpiTables& tables, std::uint64_t gpa) {
  const std::span<const std::uint8_t> all(tables.bytes);
  const std::size_t offset = gpa - tables.base_gpa;
  return all.subspan(offset, get_le<std::uint32_t>(all, offset + 4));
}

inline std::span<const std::uint8_t> xsdt_of(const AcpiTables& tables) {
  return table_at(tables, get_le<std::uint64_t>(std::span<const std::uint8_t>(tables.bytes), 24));
}

inline std::vector<std::uint64_t> xsdt_entries(const AcpiTables& tables) {
  const auto xsdt = xsdt_of(tables);
  std::vector<std::uint64_t> entries;
  for (std::size_t offset = 36; offset + 8 <= xsdt.size(); offset += 8) {
    entries.push_back(get_le<std::uint64_t>(xsdt, offset));
  }
  return entries;
}

// The table with `signature` reachable from the RSDP, or nullopt.
inline std::optional<std::span<const std::uint8_t>> find_table(const AcpiTables& tables, std::string_view signature) {
  for (const std::uint64_t gpa : xsdt_entries(tables)) {
    const auto table = table_at(tables, gpa);
    if (signature_of(table) == signature) return table;
    if (signature == "DSDT" && signature_of(table) == "FACP") {
      return table_at(tables, get_le<std::uint64_t>(table, 140));
    }
  }
  return std::nullopt;
}

// The MADT's interrupt controller structures, as (type, offset in the MADT) pairs.
inline std::vector<std::pair<std::uint8_t, std::size_t>> madt_entries(std::span<const std::uint8_t> madt) {
  std::vector<std::pair<std::uint8_t, std::size_t>> entries;
  for (std::size_t offset = 44; offset + 2 <= madt.size(); offset += madt[offset + 1]) {
    entries.emplace_back(madt[offset], offset);
  }
  return entries;
}

// The SRAT's affinity structures, as (type, offset in the SRAT) pairs.
inline std::vector<std::pair<std::uint8_t, std::size_t>> srat_entries(std::span<const std::uint8_t> srat) {
  std::vector<std::pair<std::uint8_t, std::size_t>> entries;
  for (std::size_t offset = 48; offset + 2 <= srat.size(); offset += srat[offset + 1]) {
    entries.emplace_back(srat[offset], offset);
  }
  return entries;
}

inline std::size_t count_type(const std::vector<std::pair<std::uint8_t, std::size_t>>& entries, std::uint8_t type) {
  return static_cast<std::size_t>(std::count_if(entries.begin(), entries.end(), [type](const auto& e) { return e.first == type; }));
}

inline AcpiConfig config_with_cpus(std::size_t count) {
  AcpiConfig config;
  for (std::size_t i = 0; i < count; ++i) config.cpus.push_back({static_cast<std::uint32_t>(i), 0});
  return config;
}

}  // namespace heca::firmware::testing

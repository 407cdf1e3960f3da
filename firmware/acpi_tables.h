// Builders for the individual ACPI system description tables, used by build_acpi_tables.
// Each returns a complete table: header, length and checksum set.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "firmware/acpi.h"

namespace heca::firmware::acpi_detail {

inline constexpr std::size_t kSdtHeaderSize = 36;
inline constexpr std::size_t kRsdpSize = 36;
inline constexpr std::size_t kFadtSize = 276;
inline constexpr std::size_t kFacsSize = 64;
inline constexpr std::uint64_t kFacsAlign = 64;

// The byte that makes `bytes` sum to zero (mod 256), given that it currently holds 0.
[[nodiscard]] std::uint8_t checksum_byte(std::span<const std::uint8_t> bytes);

// A 36-byte header with signature, revision and heca's OEM fields; length/checksum still 0.
[[nodiscard]] std::vector<std::uint8_t> sdt_header(std::string_view signature, std::uint8_t revision);
// Sets the header's length to the table's size, then its checksum.
void finish_sdt(std::vector<std::uint8_t>& table);

[[nodiscard]] std::vector<std::uint8_t> build_rsdp(std::uint64_t xsdt_gpa);
[[nodiscard]] std::vector<std::uint8_t> build_xsdt(std::span<const std::uint64_t> table_gpas);
struct FadtLinks {
  std::uint64_t facs_gpa = 0;
  std::uint64_t dsdt_gpa = 0;
};
[[nodiscard]] std::vector<std::uint8_t> build_fadt(const FadtLinks& links, std::uint16_t pm_io_base);
// Firmware ACPI Control Structure: no waking vector, no global lock owner; has no checksum.
[[nodiscard]] std::vector<std::uint8_t> build_facs();
[[nodiscard]] std::vector<std::uint8_t> build_dsdt();
// `mailbox_gpa` != 0 adds a Multiprocessor Wakeup structure pointing at it.
[[nodiscard]] std::vector<std::uint8_t> build_madt(std::span<const AcpiCpu> cpus, std::uint64_t mailbox_gpa);
[[nodiscard]] std::vector<std::uint8_t> build_srat(const AcpiConfig& config);
// `distances` is already validated: square, numa_nodes.size() wide.
[[nodiscard]] std::vector<std::uint8_t> build_slit(const std::vector<std::vector<std::uint8_t>>& distances);

}  // namespace heca::firmware::acpi_detail

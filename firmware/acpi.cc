#include "firmware/acpi.h"

#include <algorithm>
#include <fmt/format.h>
#include <set>

#include "firmware/acpi_tables.h"

namespace heca::firmware {
namespace {

using namespace acpi_detail;

constexpr std::uint8_t kLocalDistance = 10;
constexpr std::uint8_t kRemoteDistance = 20;
constexpr std::uint64_t kTableAlign = 16;  // RSDP must be 16-byte aligned; tables follow suit

using DistanceMatrix = std::vector<std::vector<std::uint8_t>>;

Status validate_cpus(const AcpiConfig& config) {
  if (config.cpus.empty()) return make_error("ACPI: no CPUs");
  std::set<std::uint32_t> ids;
  for (const AcpiCpu& cpu : config.cpus) {
    if (!ids.insert(cpu.apic_id).second) return make_error(fmt::format("ACPI: duplicate APIC id {}", cpu.apic_id));
    if (!config.numa_nodes.empty() && cpu.numa_node >= config.numa_nodes.size()) {
      return make_error(fmt::format("ACPI: APIC id {} is on unknown NUMA node {}", cpu.apic_id, cpu.numa_node));
    }
  }
  return {};
}

Status validate_nodes(const AcpiConfig& config) {
  for (std::size_t i = 0; i < config.numa_nodes.size(); ++i) {
    // SLIT rows are indexed by proximity domain, so domains must be dense and in order.
    if (config.numa_nodes[i].id != i) {
      return make_error(fmt::format("ACPI: NUMA node {} has id {}; ids must be 0..N-1 in order", i,
                                    config.numa_nodes[i].id));
    }
  }
  return {};
}

// The SLIT matrix to emit: the given one after checking it, or 10 local / 20 remote.
Result<DistanceMatrix> distance_matrix(const AcpiConfig& config) {
  const std::size_t n = config.numa_nodes.size();
  if (config.distances.empty()) {
    DistanceMatrix matrix(n, std::vector<std::uint8_t>(n, kRemoteDistance));
    for (std::size_t i = 0; i < n; ++i) matrix[i][i] = kLocalDistance;
    return matrix;
  }
  if (config.distances.size() != n) {
    return make_error(fmt::format("ACPI: distance matrix has {} rows for {} NUMA nodes", config.distances.size(), n));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto& row = config.distances[i];
    if (row.size() != n) return make_error(fmt::format("ACPI: distance row {} has {} entries, want {}", i, row.size(), n));
    for (std::size_t j = 0; j < n; ++j) {
      const bool ok = i == j ? row[j] == kLocalDistance : row[j] > kLocalDistance;
      if (!ok) return make_error(fmt::format("ACPI: bad distance {} from node {} to node {}", row[j], i, j));
    }
  }
  return config.distances;
}

std::uint64_t align_up(std::uint64_t value, std::uint64_t align) { return (value + align - 1) / align * align; }

// Lays tables out one after the other, each 16-byte aligned, remembering where each went.
class TableArena {
 public:
  explicit TableArena(std::uint64_t base_gpa) : base_gpa_(base_gpa) {}

  // Reserves `size` bytes at the next guest-physical address aligned to `align` and returns it.
  std::uint64_t reserve(std::size_t size, std::uint64_t align = kTableAlign) {
    const std::uint64_t offset = align_up(base_gpa_ + end_, align) - base_gpa_;
    end_ = offset + size;
    return base_gpa_ + offset;
  }
  void write(std::uint64_t gpa, const std::vector<std::uint8_t>& table) {
    const std::size_t offset = gpa - base_gpa_;
    if (bytes_.size() < offset + table.size()) bytes_.resize(offset + table.size(), 0);
    std::ranges::copy(table, bytes_.begin() + static_cast<std::ptrdiff_t>(offset));
  }
  [[nodiscard]] std::uint64_t size() const { return end_; }
  [[nodiscard]] std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  std::uint64_t base_gpa_;
  std::uint64_t end_ = 0;
  std::vector<std::uint8_t> bytes_;
};

}  // namespace

Result<AcpiTables> build_acpi_tables(const AcpiConfig& config) {
  if (config.base_gpa % kTableAlign != 0) return make_error("ACPI: base address is not 16-byte aligned");
  if (config.mp_wakeup_mailbox_gpa % kPageSize != 0) {
    return make_error(fmt::format("ACPI: wakeup mailbox at {:#x} is not 4 KiB aligned", config.mp_wakeup_mailbox_gpa));
  }
  if (auto status = validate_cpus(config); !status) return std::unexpected(status.error());
  if (auto status = validate_nodes(config); !status) return std::unexpected(status.error());
  auto distances = distance_matrix(config);
  if (!distances) return std::unexpected(distances.error());

  // Tables that do not depend on addresses first; FADT and XSDT point at others.
  std::vector<std::vector<std::uint8_t>> pointed = {build_madt(config.cpus, config.mp_wakeup_mailbox_gpa)};
  if (!config.numa_nodes.empty()) {
    pointed.push_back(build_srat(config));
    pointed.push_back(build_slit(*distances));
  }
  const std::vector<std::uint8_t> dsdt = build_dsdt();

  TableArena arena(config.base_gpa);
  const std::uint64_t rsdp_gpa = arena.reserve(kRsdpSize);
  const std::uint64_t xsdt_gpa = arena.reserve(kSdtHeaderSize + 8 * (pointed.size() + 1));
  const std::uint64_t fadt_gpa = arena.reserve(kFadtSize);
  const std::uint64_t facs_gpa = arena.reserve(kFacsSize, kFacsAlign);
  const std::uint64_t dsdt_gpa = arena.reserve(dsdt.size());
  std::vector<std::uint64_t> xsdt_entries = {fadt_gpa};
  for (const auto& table : pointed) {
    xsdt_entries.push_back(arena.reserve(table.size()));
    arena.write(xsdt_entries.back(), table);
  }
  if (arena.size() > kAcpiMax) {
    return make_error(fmt::format("ACPI: tables need {} bytes, more than the {} reserved", arena.size(), kAcpiMax));
  }
  arena.write(dsdt_gpa, dsdt);
  arena.write(facs_gpa, build_facs());
  arena.write(fadt_gpa, build_fadt({.facs_gpa = facs_gpa, .dsdt_gpa = dsdt_gpa}, config.pm_io_base));
  arena.write(xsdt_gpa, build_xsdt(xsdt_entries));
  arena.write(rsdp_gpa, build_rsdp(xsdt_gpa));
  return AcpiTables{.base_gpa = config.base_gpa, .rsdp_gpa = rsdp_gpa, .bytes = arena.take()};
}

}  // namespace heca::firmware

#include "firmware/acpi_tables.h"

#include <numeric>

#include "firmware/le_bytes.h"

namespace heca::firmware::acpi_detail {
namespace {

constexpr std::string_view kOemId = "HECA  ";
constexpr std::uint32_t kOemRevision = 1;
constexpr std::string_view kCreatorId = "HECA";
constexpr std::uint32_t kCreatorRevision = 1;

// FADT field offsets (ACPI 6.x, table 5.9).
constexpr std::size_t kFadtFirmwareCtrl = 36;
constexpr std::size_t kFadtDsdt = 40;
constexpr std::size_t kFadtSciInt = 46;
constexpr std::size_t kFadtPm1aEvtBlk = 56;
constexpr std::size_t kFadtPm1aCntBlk = 64;
constexpr std::size_t kFadtPmTmrBlk = 76;
constexpr std::size_t kFadtPm1EvtLen = 88;
constexpr std::size_t kFadtPm1CntLen = 89;
constexpr std::size_t kFadtPmTmrLen = 91;
constexpr std::size_t kFadtIapcBootArch = 109;
constexpr std::size_t kFadtFlags = 112;
constexpr std::size_t kFadtMinorVersion = 131;
constexpr std::size_t kFadtXFirmwareCtrl = 132;
constexpr std::size_t kFadtXDsdt = 140;
constexpr std::size_t kFadtXPm1aEvtBlk = 148;
constexpr std::size_t kFadtXPm1aCntBlk = 172;
constexpr std::size_t kFadtXPmTmrBlk = 208;
constexpr std::size_t kFadtHypervisorId = 268;

// IAPC_BOOT_ARCH: ISA devices (the UART) exist; no i8042 (bit 1 clear); no VGA.
constexpr std::uint16_t kBootArchLegacyDevices = 1u << 0;
constexpr std::uint16_t kBootArchVgaNotPresent = 1u << 2;
// FADT flags: WBINVD works; power/sleep buttons are not fixed hardware; 32-bit PM timer.
constexpr std::uint32_t kFadtFlagWbinvd = 1u << 0;
constexpr std::uint32_t kFadtFlagPowerButton = 1u << 4;
constexpr std::uint32_t kFadtFlagSleepButton = 1u << 5;
constexpr std::uint32_t kFadtFlagTimerValExt = 1u << 8;

constexpr std::uint8_t kGasSystemIo = 1;

// A Generic Address Structure describing `width_bytes` of I/O ports at `port`.
void put_io_gas(std::span<std::uint8_t> table, std::size_t offset, std::uint16_t port,
                std::uint8_t width_bytes) {
  put_le<std::uint8_t>(table, offset, kGasSystemIo);
  put_le<std::uint8_t>(table, offset + 1, static_cast<std::uint8_t>(width_bytes * 8));
  put_le<std::uint8_t>(table, offset + 2, 0);
  put_le<std::uint8_t>(table, offset + 3, width_bytes == 4 ? 3 : 2);  // dword / word access
  put_le<std::uint64_t>(table, offset + 4, port);
}

void put_pm_block(std::span<std::uint8_t> fadt, std::uint16_t base) {
  const auto evt = base;
  const auto cnt = static_cast<std::uint16_t>(base + 4);
  const auto tmr = static_cast<std::uint16_t>(base + 8);
  put_le<std::uint32_t>(fadt, kFadtPm1aEvtBlk, evt);
  put_le<std::uint32_t>(fadt, kFadtPm1aCntBlk, cnt);
  put_le<std::uint32_t>(fadt, kFadtPmTmrBlk, tmr);
  put_le<std::uint8_t>(fadt, kFadtPm1EvtLen, 4);
  put_le<std::uint8_t>(fadt, kFadtPm1CntLen, 2);
  put_le<std::uint8_t>(fadt, kFadtPmTmrLen, 4);
  put_io_gas(fadt, kFadtXPm1aEvtBlk, evt, 4);
  put_io_gas(fadt, kFadtXPm1aCntBlk, cnt, 2);
  put_io_gas(fadt, kFadtXPmTmrBlk, tmr, 4);
}

}  // namespace

std::uint8_t checksum_byte(std::span<const std::uint8_t> bytes) {
  const unsigned sum = std::accumulate(bytes.begin(), bytes.end(), 0u);
  return static_cast<std::uint8_t>(0x100 - (sum & 0xff));
}

std::vector<std::uint8_t> sdt_header(std::string_view signature, std::uint8_t revision) {
  std::vector<std::uint8_t> table(kSdtHeaderSize, 0);
  put_ascii(table, 0, signature);
  put_le<std::uint8_t>(table, 8, revision);
  put_ascii(table, 10, kOemId);
  put_ascii(table, 16, "HECA");
  put_ascii(table, 20, signature);  // OEM table id: "HECA" + signature
  put_le<std::uint32_t>(table, 24, kOemRevision);
  put_ascii(table, 28, kCreatorId);
  put_le<std::uint32_t>(table, 32, kCreatorRevision);
  return table;
}

void finish_sdt(std::vector<std::uint8_t>& table) {
  put_le<std::uint32_t>(table, 4, static_cast<std::uint32_t>(table.size()));
  table[9] = 0;
  table[9] = checksum_byte(table);
}

std::vector<std::uint8_t> build_rsdp(std::uint64_t xsdt_gpa) {
  std::vector<std::uint8_t> rsdp(kRsdpSize, 0);
  put_ascii(rsdp, 0, "RSD PTR ");
  put_ascii(rsdp, 9, kOemId);
  put_le<std::uint8_t>(rsdp, 15, 2);  // revision 2: XSDT present
  put_le<std::uint32_t>(rsdp, 16, 0);  // no RSDT
  put_le<std::uint32_t>(rsdp, 20, static_cast<std::uint32_t>(kRsdpSize));
  put_le<std::uint64_t>(rsdp, 24, xsdt_gpa);
  rsdp[8] = checksum_byte(std::span(rsdp).first(20));  // ACPI 1.0 part
  rsdp[32] = checksum_byte(rsdp);                        // extended checksum, whole structure
  return rsdp;
}

std::vector<std::uint8_t> build_xsdt(std::span<const std::uint64_t> table_gpas) {
  std::vector<std::uint8_t> xsdt = sdt_header("XSDT", 1);
  for (const std::uint64_t gpa : table_gpas) append_le<std::uint64_t>(xsdt, gpa);
  finish_sdt(xsdt);
  return xsdt;
}

std::vector<std::uint8_t> build_fadt(const FadtLinks& links, std::uint16_t pm_io_base) {
  std::vector<std::uint8_t> fadt = sdt_header("FACP", 6);
  fadt.resize(kFadtSize, 0);
  // The spec allows only one of FIRMWARE_CTRL / X_FIRMWARE_CTRL to be set.
  if (links.facs_gpa <= UINT32_MAX) {
    put_le<std::uint32_t>(fadt, kFadtFirmwareCtrl, static_cast<std::uint32_t>(links.facs_gpa));
  } else {
    put_le<std::uint64_t>(fadt, kFadtXFirmwareCtrl, links.facs_gpa);
  }
  // The 32-bit DSDT field only when it can hold the address; X_DSDT always.
  put_le<std::uint32_t>(fadt, kFadtDsdt,
                        links.dsdt_gpa <= UINT32_MAX ? static_cast<std::uint32_t>(links.dsdt_gpa) : 0);
  put_le<std::uint16_t>(fadt, kFadtSciInt, kAcpiSciIrq);
  put_le<std::uint16_t>(fadt, kFadtIapcBootArch, kBootArchLegacyDevices | kBootArchVgaNotPresent);
  std::uint32_t flags = kFadtFlagWbinvd | kFadtFlagPowerButton | kFadtFlagSleepButton;
  if (pm_io_base != 0) {
    put_pm_block(fadt, pm_io_base);
    flags |= kFadtFlagTimerValExt;
  }
  put_le<std::uint32_t>(fadt, kFadtFlags, flags);
  put_le<std::uint8_t>(fadt, kFadtMinorVersion, 5);
  put_le<std::uint64_t>(fadt, kFadtXDsdt, links.dsdt_gpa);
  put_ascii(fadt, kFadtHypervisorId, "HECA");
  finish_sdt(fadt);
  return fadt;
}

std::vector<std::uint8_t> build_facs() {
  std::vector<std::uint8_t> facs(kFacsSize, 0);
  put_ascii(facs, 0, "FACS");
  put_le<std::uint32_t>(facs, 4, static_cast<std::uint32_t>(kFacsSize));
  put_le<std::uint8_t>(facs, 32, 2);  // version
  return facs;
}

std::vector<std::uint8_t> build_dsdt() {
  // AML: Name (_S5, Package (4) { S5, S5, Zero, Zero }) -- lets the guest find SLP_TYP for S5.
  constexpr std::uint8_t kNameOp = 0x08, kPackageOp = 0x12, kBytePrefix = 0x0a, kZeroOp = 0x00;
  const std::vector<std::uint8_t> aml = {
      kNameOp,     '_', 'S', '5', '_',  //
      kPackageOp,  0x08,                // PkgLength: itself + the 7 bytes below
      0x04,                             // NumElements
      kBytePrefix, kAcpiS5SleepType, kBytePrefix, kAcpiS5SleepType, kZeroOp, kZeroOp};
  std::vector<std::uint8_t> dsdt = sdt_header("DSDT", 2);  // revision 2: 64-bit AML integers
  dsdt.insert(dsdt.end(), aml.begin(), aml.end());
  finish_sdt(dsdt);
  return dsdt;
}

}  // namespace heca::firmware::acpi_detail
